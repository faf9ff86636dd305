#include "CMeshShims.h"

// `make` writes the commit here; a plain `swift build` finds no file and says "unknown".
#if __has_include("../../.build/buildinfo/meshctl_buildinfo.h")
#include "../../.build/buildinfo/meshctl_buildinfo.h"
#endif
#ifndef MESHCTL_GIT_COMMIT
#define MESHCTL_GIT_COMMIT "unknown"
#endif

CURLcode CMeshShims_curl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode CMeshShims_curl_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode CMeshShims_curl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode CMeshShims_curl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode CMeshShims_curl_easy_setopt_write_callback(CURL *handle, CURLoption option, CMeshShims_curl_write_callback value) {
    return curl_easy_setopt(handle, option, value);
}

CURLcode CMeshShims_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

CURLcode CMeshShims_curl_easy_getinfo_double(CURL *handle, CURLINFO info, double *value) {
    return curl_easy_getinfo(handle, info, value);
}

CURLcode CMeshShims_curl_easy_getinfo_pointer(CURL *handle, CURLINFO info, void **value) {
    return curl_easy_getinfo(handle, info, value);
}

long CMeshShims_SSL_CTX_set_min_proto_version(SSL_CTX *context, int version) {
    return SSL_CTX_set_min_proto_version(context, version);
}

long CMeshShims_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}

const char *CMeshShims_build_commit(void) {
    return MESHCTL_GIT_COMMIT;
}

unsigned long CMeshShims_XN_FLAG_RFC2253(void) {
    return XN_FLAG_RFC2253;
}

long CMeshShims_SSL_CTX_add_extra_chain_cert(SSL_CTX *context, X509 *certificate) {
    return SSL_CTX_add_extra_chain_cert(context, certificate);
}
