// Linux calls that Swift's Glibc module leaves out: accept4 (declared only under _GNU_SOURCE) and glibc's
// malloc_trim (malloc.h), pipe2, and posix_spawn's addchdir_np (glibc 2.29) and addclosefrom_np (glibc 2.34). MeshNet's
// System/SystemCalls.swift and MeshControlPlane's Workloads/Kubelet/ChildProcess.swift import this module.
#ifdef __linux__
#include <stddef.h>
#include <sys/socket.h>
int accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);
int malloc_trim(size_t pad);
#include <spawn.h>
int pipe2(int fds[2], int flags);
int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *actions, const char *path);
int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);
#endif
