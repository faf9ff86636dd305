// libcurl's variadic curl_easy_setopt and curl_easy_getinfo, as typed functions Swift can call.
// Only KubeClient's Curl.swift imports this module.
#ifndef CCURLSHIMS_H
#define CCURLSHIMS_H

#include <stddef.h>
#include <curl/curl.h>

typedef size_t (*CCurlShims_write_callback)(char *data, size_t size, size_t count, void *context);

CURLcode CCurlShims_easy_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode CCurlShims_easy_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode CCurlShims_easy_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode CCurlShims_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode CCurlShims_easy_setopt_write_callback(CURL *handle, CURLoption option, CCurlShims_write_callback value);
CURLcode CCurlShims_easy_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode CCurlShims_easy_getinfo_double(CURL *handle, CURLINFO info, double *value);
CURLcode CCurlShims_easy_getinfo_pointer(CURL *handle, CURLINFO info, void **value);

#endif
