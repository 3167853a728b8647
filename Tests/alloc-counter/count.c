// An allocation counter for slotproxy's allocation regression checks (no timing involved).
// Preloaded into a test process or the proxy (LD_PRELOAD), it counts every malloc-family
// call; the unit tests and the proxy's INFO read `slotproxy_alloc_count` through dlsym.
//   cc -shared -fPIC -O2 -o libslotproxy-alloc-count.so count.c -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdlib.h>

volatile long slotproxy_alloc_count = 0;

static void *(*next_malloc)(size_t);
static void *(*next_calloc)(size_t, size_t);
static void *(*next_realloc)(void *, size_t);
static int (*next_memalign)(void **, size_t, size_t);
static void *(*next_aligned)(size_t, size_t);

// dlsym itself may call calloc before next_calloc is known: serve those from a static pool.
static char early[4096];
static size_t early_used;

void *malloc(size_t n) {
    if (!next_malloc) next_malloc = dlsym(RTLD_NEXT, "malloc");
    __atomic_add_fetch(&slotproxy_alloc_count, 1, __ATOMIC_RELAXED);
    return next_malloc(n);
}

void *calloc(size_t k, size_t n) {
    if (!next_calloc) {
        static int resolving;
        if (resolving) {
            void *p = early + early_used;
            early_used += (k * n + 15) & ~(size_t)15;
            return p;
        }
        resolving = 1;
        next_calloc = dlsym(RTLD_NEXT, "calloc");
        resolving = 0;
    }
    __atomic_add_fetch(&slotproxy_alloc_count, 1, __ATOMIC_RELAXED);
    return next_calloc(k, n);
}

static void (*next_free)(void *);

void free(void *p) {
    if ((char *)p >= early && (char *)p < early + sizeof early) return;
    if (!next_free) next_free = dlsym(RTLD_NEXT, "free");
    next_free(p);
}

void *realloc(void *p, size_t n) {
    if (!next_realloc) next_realloc = dlsym(RTLD_NEXT, "realloc");
    __atomic_add_fetch(&slotproxy_alloc_count, 1, __ATOMIC_RELAXED);
    return next_realloc(p, n);
}

int posix_memalign(void **p, size_t a, size_t n) {
    if (!next_memalign) next_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    __atomic_add_fetch(&slotproxy_alloc_count, 1, __ATOMIC_RELAXED);
    return next_memalign(p, a, n);
}

void *aligned_alloc(size_t a, size_t n) {
    if (!next_aligned) next_aligned = dlsym(RTLD_NEXT, "aligned_alloc");
    __atomic_add_fetch(&slotproxy_alloc_count, 1, __ATOMIC_RELAXED);
    return next_aligned(a, n);
}
