// OpenSSL macros, as functions Swift can call. Only MeshNet's OpenSSL.swift imports this module.
#ifndef COPENSSLSHIMS_H
#define COPENSSLSHIMS_H

#include <openssl/ssl.h>

long COpenSSLShims_SSL_CTX_set_min_proto_version(SSL_CTX *context, int version);
long COpenSSLShims_SSL_CTX_set_max_proto_version(SSL_CTX *context, int version);
uint64_t COpenSSLShims_SSL_OP_NO_TICKET(void);
uint64_t COpenSSLShims_SSL_OP_NO_RENEGOTIATION(void);
long COpenSSLShims_SSL_set_tlsext_host_name(SSL *ssl, const char *name);
unsigned long COpenSSLShims_XN_FLAG_RFC2253(void);
long COpenSSLShims_SSL_CTX_add_extra_chain_cert(SSL_CTX *context, X509 *certificate);

#endif
