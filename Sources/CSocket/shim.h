// Linux socket calls that Swift's Glibc module leaves out (they need _GNU_SOURCE). Only MeshNet's Socket.swift
// imports this module.
#ifdef __linux__
#include <sys/socket.h>
int accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);
#endif
