// SQLite, opened on first use instead of linked. Only MeshControlPlane's SQLite.swift imports this module.
//
// Only local mode's store uses SQLite: linking it made the dynamic loader map it and resolve its ~1,300 symbols at
// every meshctl start. CSQLiteShims_load opens it with dlopen when the first database is opened; every other
// function here forwards to SQLite's own and must only be called after CSQLiteShims_load succeeded.
#ifndef CSQLITESHIMS_H
#define CSQLITESHIMS_H

#include <sqlite3.h>

/// Opens SQLite from `file` (a file name the dynamic loader looks up, or a path), once per process whatever the
/// thread: later calls return the first call's result. NULL when SQLite is ready, else why not (the loader's
/// message), text that lives as long as the process.
const char *CSQLiteShims_load(const char *file);

int CSQLiteShims_open_v2(const char *path, sqlite3 **handle, int flags, const char *vfs);
int CSQLiteShims_close(sqlite3 *handle);
const char *CSQLiteShims_errmsg(sqlite3 *handle);
int CSQLiteShims_busy_timeout(sqlite3 *handle, int milliseconds);
int CSQLiteShims_exec(sqlite3 *handle, const char *sql, int (*callback)(void *, int, char **, char **), void *context, char **error);
void CSQLiteShims_free(void *pointer);
int CSQLiteShims_prepare_v2(sqlite3 *handle, const char *sql, int length, sqlite3_stmt **statement, const char **tail);
int CSQLiteShims_finalize(sqlite3_stmt *statement);
int CSQLiteShims_reset(sqlite3_stmt *statement);
int CSQLiteShims_clear_bindings(sqlite3_stmt *statement);
int CSQLiteShims_bind_null(sqlite3_stmt *statement, int position);
int CSQLiteShims_bind_int64(sqlite3_stmt *statement, int position, sqlite3_int64 value);
int CSQLiteShims_bind_text(sqlite3_stmt *statement, int position, const char *text, int length, void (*destructor)(void *));
int CSQLiteShims_bind_blob(sqlite3_stmt *statement, int position, const void *bytes, int length, void (*destructor)(void *));
int CSQLiteShims_step(sqlite3_stmt *statement);
int CSQLiteShims_column_count(sqlite3_stmt *statement);
int CSQLiteShims_column_type(sqlite3_stmt *statement, int column);
sqlite3_int64 CSQLiteShims_column_int64(sqlite3_stmt *statement, int column);
const unsigned char *CSQLiteShims_column_text(sqlite3_stmt *statement, int column);
const void *CSQLiteShims_column_blob(sqlite3_stmt *statement, int column);
int CSQLiteShims_column_bytes(sqlite3_stmt *statement, int column);
int CSQLiteShims_changes(sqlite3 *handle);

#endif
