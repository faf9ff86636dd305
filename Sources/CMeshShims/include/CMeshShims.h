// Typed shims for C functions Swift cannot call directly: variadic functions and macros.
// Each name starts with the module it serves, so a reader knows where it goes.
#ifndef CMESHSHIMS_H
#define CMESHSHIMS_H

#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>
#include <openssl/ssl.h>

// Linux event polling for MeshNet's loops (not in Swift's Glibc module).
#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
// glibc's malloc_trim, for MeshNet to give freed heap back after many connections close.
#include <malloc.h>
#endif

// libcurl: curl_easy_setopt and curl_easy_getinfo are variadic.
typedef size_t (*CMeshShims_curl_write_callback)(char *data, size_t size, size_t count, void *context);

CURLcode CMeshShims_curl_easy_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode CMeshShims_curl_easy_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode CMeshShims_curl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode CMeshShims_curl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode CMeshShims_curl_easy_setopt_write_callback(CURL *handle, CURLoption option, CMeshShims_curl_write_callback value);
CURLcode CMeshShims_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode CMeshShims_curl_easy_getinfo_double(CURL *handle, CURLINFO info, double *value);
CURLcode CMeshShims_curl_easy_getinfo_pointer(CURL *handle, CURLINFO info, void **value);

// OpenSSL: these are macros in the headers.
long CMeshShims_SSL_CTX_set_min_proto_version(SSL_CTX *context, int version);
long CMeshShims_SSL_set_tlsext_host_name(SSL *ssl, const char *name);
unsigned long CMeshShims_XN_FLAG_RFC2253(void);
long CMeshShims_SSL_CTX_add_extra_chain_cert(SSL_CTX *context, X509 *certificate);

// Build information stamped by `make` (see scripts/buildinfo.sh); "unknown" in a plain `swift build`.
const char *CMeshShims_build_commit(void);

#endif
