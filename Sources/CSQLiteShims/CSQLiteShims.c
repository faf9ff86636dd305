#include "CSQLiteShims.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

// SQLite's functions meshctl calls, filled once by CSQLiteShims_load.
static struct {
    int (*open_v2)(const char *, sqlite3 **, int, const char *);
    int (*close)(sqlite3 *);
    const char *(*errmsg)(sqlite3 *);
    int (*busy_timeout)(sqlite3 *, int);
    int (*exec)(sqlite3 *, const char *, int (*)(void *, int, char **, char **), void *, char **);
    void (*free)(void *);
    int (*prepare_v2)(sqlite3 *, const char *, int, sqlite3_stmt **, const char **);
    int (*finalize)(sqlite3_stmt *);
    int (*reset)(sqlite3_stmt *);
    int (*clear_bindings)(sqlite3_stmt *);
    int (*bind_null)(sqlite3_stmt *, int);
    int (*bind_int64)(sqlite3_stmt *, int, sqlite3_int64);
    int (*bind_text)(sqlite3_stmt *, int, const char *, int, void (*)(void *));
    int (*bind_blob)(sqlite3_stmt *, int, const void *, int, void (*)(void *));
    int (*step)(sqlite3_stmt *);
    int (*column_count)(sqlite3_stmt *);
    int (*column_type)(sqlite3_stmt *, int);
    sqlite3_int64 (*column_int64)(sqlite3_stmt *, int);
    const unsigned char *(*column_text)(sqlite3_stmt *, int);
    const void *(*column_blob)(sqlite3_stmt *, int);
    int (*column_bytes)(sqlite3_stmt *, int);
    int (*changes)(sqlite3 *);
} sqlite;

static pthread_mutex_t loading = PTHREAD_MUTEX_INITIALIZER;
// 0 not tried yet, 1 ready, -1 failed (with `failure` saying why).
static int state;
static char failure[1024];

static int open_library(const char *file) {
    void *library = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        const char *reason = dlerror();
        snprintf(failure, sizeof failure, "%s", reason != NULL ? reason : file);
        return -1;
    }
#define RESOLVE(name) \
    if ((*(void **)&sqlite.name = dlsym(library, "sqlite3_" #name)) == NULL) { \
        snprintf(failure, sizeof failure, "%s is not SQLite: it has no function sqlite3_" #name, file); \
        return -1; \
    }
    RESOLVE(open_v2);
    RESOLVE(close);
    RESOLVE(errmsg);
    RESOLVE(busy_timeout);
    RESOLVE(exec);
    RESOLVE(free);
    RESOLVE(prepare_v2);
    RESOLVE(finalize);
    RESOLVE(reset);
    RESOLVE(clear_bindings);
    RESOLVE(bind_null);
    RESOLVE(bind_int64);
    RESOLVE(bind_text);
    RESOLVE(bind_blob);
    RESOLVE(step);
    RESOLVE(column_count);
    RESOLVE(column_type);
    RESOLVE(column_int64);
    RESOLVE(column_text);
    RESOLVE(column_blob);
    RESOLVE(column_bytes);
    RESOLVE(changes);
#undef RESOLVE
    return 1;
}

const char *CSQLiteShims_load(const char *file) {
    pthread_mutex_lock(&loading);
    if (state == 0) state = open_library(file);
    int result = state;
    pthread_mutex_unlock(&loading);
    return result == 1 ? NULL : failure;
}

int CSQLiteShims_open_v2(const char *path, sqlite3 **handle, int flags, const char *vfs) { return sqlite.open_v2(path, handle, flags, vfs); }
int CSQLiteShims_close(sqlite3 *handle) { return sqlite.close(handle); }
const char *CSQLiteShims_errmsg(sqlite3 *handle) { return sqlite.errmsg(handle); }
int CSQLiteShims_busy_timeout(sqlite3 *handle, int milliseconds) { return sqlite.busy_timeout(handle, milliseconds); }
int CSQLiteShims_exec(sqlite3 *handle, const char *sql, int (*callback)(void *, int, char **, char **), void *context, char **error) { return sqlite.exec(handle, sql, callback, context, error); }
void CSQLiteShims_free(void *pointer) { sqlite.free(pointer); }
int CSQLiteShims_prepare_v2(sqlite3 *handle, const char *sql, int length, sqlite3_stmt **statement, const char **tail) { return sqlite.prepare_v2(handle, sql, length, statement, tail); }
int CSQLiteShims_finalize(sqlite3_stmt *statement) { return sqlite.finalize(statement); }
int CSQLiteShims_reset(sqlite3_stmt *statement) { return sqlite.reset(statement); }
int CSQLiteShims_clear_bindings(sqlite3_stmt *statement) { return sqlite.clear_bindings(statement); }
int CSQLiteShims_bind_null(sqlite3_stmt *statement, int position) { return sqlite.bind_null(statement, position); }
int CSQLiteShims_bind_int64(sqlite3_stmt *statement, int position, sqlite3_int64 value) { return sqlite.bind_int64(statement, position, value); }
int CSQLiteShims_bind_text(sqlite3_stmt *statement, int position, const char *text, int length, void (*destructor)(void *)) { return sqlite.bind_text(statement, position, text, length, destructor); }
int CSQLiteShims_bind_blob(sqlite3_stmt *statement, int position, const void *bytes, int length, void (*destructor)(void *)) { return sqlite.bind_blob(statement, position, bytes, length, destructor); }
int CSQLiteShims_step(sqlite3_stmt *statement) { return sqlite.step(statement); }
int CSQLiteShims_column_count(sqlite3_stmt *statement) { return sqlite.column_count(statement); }
int CSQLiteShims_column_type(sqlite3_stmt *statement, int column) { return sqlite.column_type(statement, column); }
sqlite3_int64 CSQLiteShims_column_int64(sqlite3_stmt *statement, int column) { return sqlite.column_int64(statement, column); }
const unsigned char *CSQLiteShims_column_text(sqlite3_stmt *statement, int column) { return sqlite.column_text(statement, column); }
const void *CSQLiteShims_column_blob(sqlite3_stmt *statement, int column) { return sqlite.column_blob(statement, column); }
int CSQLiteShims_column_bytes(sqlite3_stmt *statement, int column) { return sqlite.column_bytes(statement, column); }
int CSQLiteShims_changes(sqlite3 *handle) { return sqlite.changes(handle); }
