// libcurl, opened on first use instead of linked, as typed functions Swift can call (curl_easy_setopt and
// curl_easy_getinfo are variadic). Only KubeClient's Curl.swift imports this module.
//
// meshctl does not name libcurl among its needed libraries: the dynamic loader would map it and its ~20 libraries
// (TLS, LDAP, SSH, IDN, Kerberos, compression) at every start, also for the many commands that never talk to an API
// server. CCurlShims_load opens it with dlopen when a client is first made; every other function here forwards to
// libcurl's own and must only be called after CCurlShims_load succeeded.
#ifndef CCURLSHIMS_H
#define CCURLSHIMS_H

#include <stddef.h>
#include <curl/curl.h>

/// Opens libcurl from `file` (a file name the dynamic loader looks up, or a path) and runs curl_global_init, once
/// per process whatever the thread: later calls return the first call's result, whatever their `file`.
/// NULL when libcurl is ready, else why not (the loader's message), text that lives as long as the process.
const char *CCurlShims_load(const char *file);

typedef size_t (*CCurlShims_write_callback)(char *data, size_t size, size_t count, void *context);

curl_version_info_data *CCurlShims_version_info(CURLversion age);
CURL *CCurlShims_easy_init(void);
void CCurlShims_easy_cleanup(CURL *handle);
CURLcode CCurlShims_easy_perform(CURL *handle);
const char *CCurlShims_easy_strerror(CURLcode code);
struct curl_slist *CCurlShims_slist_append(struct curl_slist *list, const char *text);
void CCurlShims_slist_free_all(struct curl_slist *list);

CURLcode CCurlShims_easy_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode CCurlShims_easy_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode CCurlShims_easy_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode CCurlShims_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode CCurlShims_easy_setopt_write_callback(CURL *handle, CURLoption option, CCurlShims_write_callback value);
CURLcode CCurlShims_easy_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode CCurlShims_easy_getinfo_double(CURL *handle, CURLINFO info, double *value);
CURLcode CCurlShims_easy_getinfo_pointer(CURL *handle, CURLINFO info, void **value);

#endif
