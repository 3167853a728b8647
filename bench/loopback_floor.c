/* What one request's client-side system calls cost on this machine, whatever program makes
 * them: a 64-byte write and the read that takes it, on one thread (so no wakeup is included),
 * over loopback TCP (TCP_NODELAY) and over a Unix socket. A proxy makes one such pair per
 * client request at P=1 (it reads the request, it writes the reply), so this is the floor
 * under its CPU per request, and the difference between the two is what a client reaching
 * it over `unixsocket` saves. bench/run compiles this with cc and prints the result.
 *
 * Output, one line each: tcp_pair_us <float>, unix_pair_us <float>. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

/* Median of five rounds of n write+read pairs from `w` to `r`, in us per pair. */
static double pair_cost(int w, int r, int n) {
    char buf[64];
    double rounds[5];
    memset(buf, 'x', sizeof buf);
    for (int k = 0; k < 5; k++) {
        double t0 = now_us();
        for (int i = 0; i < n; i++) {
            if (write(w, buf, sizeof buf) != sizeof buf || read(r, buf, sizeof buf) != sizeof buf) return -1;
        }
        rounds[k] = (now_us() - t0) / n;
    }
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            if (rounds[j] < rounds[i]) { double x = rounds[i]; rounds[i] = rounds[j]; rounds[j] = x; }
    return rounds[2];
}

int main(void) {
    const int n = 20000;
    int one = 1;
    struct sockaddr_in a = {0};
    socklen_t len = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) != 0 || listen(l, 1) != 0
        || getsockname(l, (struct sockaddr *)&a, &len) != 0) return 1;
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a) != 0) return 1;
    int s = accept(l, NULL, NULL);
    if (s < 0) return 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    printf("tcp_pair_us %.2f\n", pair_cost(c, s, n));

    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) return 1;
    printf("unix_pair_us %.2f\n", pair_cost(pair[0], pair[1], n));
    return 0;
}
