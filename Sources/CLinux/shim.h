// Linux calls that Swift's Glibc module leaves out: accept4 (declared only under _GNU_SOURCE) and glibc's
// malloc_trim (malloc.h). Only MeshNet's System/SystemCalls.swift imports this module.
#ifdef __linux__
#include <stddef.h>
#include <sys/socket.h>
int accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);
int malloc_trim(size_t pad);
#endif
