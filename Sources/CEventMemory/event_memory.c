// Where libevent's small allocations live.
//
// libevent keeps a 16-byte record per file descriptor (evmap_io) from the first event added on
// that descriptor until the event base is freed. Taken from glibc's heap, one such record sits
// between the memory of every two clients accepted one after the other, so when a thousand
// clients leave, their ~1.8 KB each is free but no page of it is: each page still holds a live
// record, and nothing can be returned to the system (malloc_trim releases whole free pages).
//
// Here every libevent allocation of up to CELL_SIZE bytes is a cell of a region reserved
// once (MAP_NORESERVE: only cells ever used are resident, 32 bytes per descriptor number in use
// at the peak). Freed cells go on a free list. Larger allocations, and everything when the
// region is full, are glibc's; free() tells the two apart by address.
//
//   libevent mm_malloc/mm_realloc/mm_free ─▶ slotproxy_event_malloc/realloc/free
//        size ≤ 32 ─▶ cell (free list, else the next untouched one)     size > 32 ─▶ malloc

#include "event_memory.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mman.h>

#define CELL_SIZE 32
#define REGION_BYTES ((size_t)16 << 20)   // 524,288 cells: address space, not memory

static char *region;
static size_t cells_touched;   // cells [0, cells_touched) have been handed out at least once
static size_t cells_in_use;
static void *free_cells;       // each free cell holds the address of the next
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int in_region(const void *pointer) {
    return region != NULL && (const char *)pointer >= region && (const char *)pointer < region + REGION_BYTES;
}

void *slotproxy_event_malloc(size_t size) {
    if (size > CELL_SIZE || region == NULL) return malloc(size);
    void *cell = NULL;
    pthread_mutex_lock(&lock);
    if (free_cells != NULL) {
        cell = free_cells;
        free_cells = *(void **)cell;
    } else if (cells_touched < REGION_BYTES / CELL_SIZE) {
        cell = region + cells_touched * CELL_SIZE;
        cells_touched += 1;
    }
    if (cell != NULL) cells_in_use += 1;
    pthread_mutex_unlock(&lock);
    return cell != NULL ? cell : malloc(size);
}

void slotproxy_event_free(void *pointer) {
    if (!in_region(pointer)) {
        free(pointer);
        return;
    }
    pthread_mutex_lock(&lock);
    *(void **)pointer = free_cells;
    free_cells = pointer;
    cells_in_use -= 1;
    pthread_mutex_unlock(&lock);
}

void *slotproxy_event_realloc(void *pointer, size_t size) {
    if (!in_region(pointer)) {
        if (pointer == NULL) return slotproxy_event_malloc(size);
        return realloc(pointer, size);
    }
    if (size <= CELL_SIZE) return pointer;
    void *moved = malloc(size);
    if (moved == NULL) return NULL;   // realloc's contract: the old block stays valid
    memcpy(moved, pointer, CELL_SIZE);
    slotproxy_event_free(pointer);
    return moved;
}

int slotproxy_event_memory_install(void) {
    void *reserved = mmap(NULL, REGION_BYTES, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (reserved == MAP_FAILED) return -1;
    region = reserved;
    event_set_mem_functions(slotproxy_event_malloc, slotproxy_event_realloc, slotproxy_event_free);
    return 0;
}

size_t slotproxy_event_memory_cells_in_use(void) {
    pthread_mutex_lock(&lock);
    size_t n = cells_in_use;
    pthread_mutex_unlock(&lock);
    return n;
}

size_t slotproxy_event_memory_cells_touched(void) {
    pthread_mutex_lock(&lock);
    size_t n = cells_touched;
    pthread_mutex_unlock(&lock);
    return n;
}
