// The C side of slotproxy: libevent plus the few socket headers Swift needs.
// The system headers come first: <event2/*.h> uses fd_set and friends, and a clean
// debug build fails on them when these are included later.
#ifndef SLOTPROXY_CLIBEVENT_SHIM_H
#define SLOTPROXY_CLIBEVENT_SHIM_H

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/select.h>
#include <sys/uio.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <errno.h>
#include <malloc.h>
#include <sys/prctl.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <event2/util.h>
#include <event2/http.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <event2/dns.h>

// Macros and variadic calls Swift cannot reach directly get tiny prefixed wrappers.
static inline int slotproxy_fcntl_nonblock(int fd) {
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static inline int slotproxy_errno(void) { return errno; }

// accept4 is a GNU extension the Glibc module may hide: declare it and wrap it.
extern int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags);

/// Accepts one connection as a non-blocking, close-on-exec socket; -1 with errno set if none.
static inline int slotproxy_accept(int listen_fd) {
    return accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

/// Names the calling thread (top -H, /proc/<pid>/task/*/comm; the kernel keeps 15 bytes).
static inline void slotproxy_set_thread_name(const char *name) {
    prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}

#endif
