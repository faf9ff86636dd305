#include "CCurlShims.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

// libcurl's functions meshctl calls, filled once by CCurlShims_load.
static struct {
    curl_version_info_data *(*version_info)(CURLversion);
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    CURLcode (*easy_perform)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} curl;

static pthread_mutex_t loading = PTHREAD_MUTEX_INITIALIZER;
// 0 not tried yet, 1 ready, -1 failed (with `failure` saying why).
static int state;
static char failure[1024];

// The address of `name` in `library`, or NULL with `failure` set.
static void *resolve(void *library, const char *file, const char *name) {
    void *address = dlsym(library, name);
    if (address == NULL) snprintf(failure, sizeof failure, "%s is not libcurl: it has no function %s", file, name);
    return address;
}

static int open_library(const char *file) {
    void *library = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        const char *reason = dlerror();
        snprintf(failure, sizeof failure, "%s", reason != NULL ? reason : file);
        return -1;
    }
#define RESOLVE(field, name) if ((*(void **)&curl.field = resolve(library, file, name)) == NULL) return -1
    RESOLVE(version_info, "curl_version_info");
    RESOLVE(global_init, "curl_global_init");
    RESOLVE(easy_init, "curl_easy_init");
    RESOLVE(easy_cleanup, "curl_easy_cleanup");
    RESOLVE(easy_perform, "curl_easy_perform");
    RESOLVE(easy_strerror, "curl_easy_strerror");
    RESOLVE(easy_setopt, "curl_easy_setopt");
    RESOLVE(easy_getinfo, "curl_easy_getinfo");
    RESOLVE(slist_append, "curl_slist_append");
    RESOLVE(slist_free_all, "curl_slist_free_all");
#undef RESOLVE
    // Not thread-safe in older libcurl: here it runs once, under the lock.
    CURLcode code = curl.global_init(CURL_GLOBAL_DEFAULT);
    if (code != CURLE_OK) {
        snprintf(failure, sizeof failure, "curl_global_init failed: %s", curl.easy_strerror(code));
        return -1;
    }
    return 1;
}

const char *CCurlShims_load(const char *file) {
    pthread_mutex_lock(&loading);
    if (state == 0) state = open_library(file);
    int result = state;
    pthread_mutex_unlock(&loading);
    return result == 1 ? NULL : failure;
}

curl_version_info_data *CCurlShims_version_info(CURLversion age) { return curl.version_info(age); }
CURL *CCurlShims_easy_init(void) { return curl.easy_init(); }
void CCurlShims_easy_cleanup(CURL *handle) { curl.easy_cleanup(handle); }
CURLcode CCurlShims_easy_perform(CURL *handle) { return curl.easy_perform(handle); }
const char *CCurlShims_easy_strerror(CURLcode code) { return curl.easy_strerror(code); }
struct curl_slist *CCurlShims_slist_append(struct curl_slist *list, const char *text) { return curl.slist_append(list, text); }
void CCurlShims_slist_free_all(struct curl_slist *list) { curl.slist_free_all(list); }

CURLcode CCurlShims_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl.easy_setopt(handle, option, value);
}

CURLcode CCurlShims_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl.easy_setopt(handle, option, value);
}

CURLcode CCurlShims_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl.easy_setopt(handle, option, value);
}

CURLcode CCurlShims_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl.easy_setopt(handle, option, value);
}

CURLcode CCurlShims_easy_setopt_write_callback(CURL *handle, CURLoption option, CCurlShims_write_callback value) {
    return curl.easy_setopt(handle, option, value);
}

CURLcode CCurlShims_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl.easy_getinfo(handle, info, value);
}

CURLcode CCurlShims_easy_getinfo_double(CURL *handle, CURLINFO info, double *value) {
    return curl.easy_getinfo(handle, info, value);
}

CURLcode CCurlShims_easy_getinfo_pointer(CURL *handle, CURLINFO info, void **value) {
    return curl.easy_getinfo(handle, info, value);
}
