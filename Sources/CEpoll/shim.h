// Linux event polling (epoll, eventfd) for MeshNet's event loop: not in Swift's Glibc module.
#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#endif
