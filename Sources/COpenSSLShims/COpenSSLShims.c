#include "COpenSSLShims.h"

long COpenSSLShims_SSL_CTX_set_min_proto_version(SSL_CTX *context, int version) {
    return SSL_CTX_set_min_proto_version(context, version);
}

long COpenSSLShims_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}

unsigned long COpenSSLShims_XN_FLAG_RFC2253(void) {
    return XN_FLAG_RFC2253;
}

long COpenSSLShims_SSL_CTX_add_extra_chain_cert(SSL_CTX *context, X509 *certificate) {
    return SSL_CTX_add_extra_chain_cert(context, certificate);
}

long COpenSSLShims_SSL_CTX_set_max_proto_version(SSL_CTX *context, int version) {
    return SSL_CTX_set_max_proto_version(context, version);
}

uint64_t COpenSSLShims_SSL_OP_NO_TICKET(void) {
    return SSL_OP_NO_TICKET;
}

uint64_t COpenSSLShims_SSL_OP_NO_RENEGOTIATION(void) {
    return SSL_OP_NO_RENEGOTIATION;
}
