// libevent's small allocations, kept out of the heap the proxy's connections live in
// (event_memory.c says why).
#ifndef SLOTPROXY_EVENT_MEMORY_H
#define SLOTPROXY_EVENT_MEMORY_H

#include <stddef.h>

/// Routes libevent's allocations through event_memory.c. Call once, before any other libevent
/// call; returns 0, or -1 when the cell region cannot be reserved (libevent then keeps malloc).
int slotproxy_event_memory_install(void);

/// Cells handed out and not freed, and cells ever used (both 0 before install).
size_t slotproxy_event_memory_cells_in_use(void);
size_t slotproxy_event_memory_cells_touched(void);

// The allocator itself, for tests.
void *slotproxy_event_malloc(size_t size);
void *slotproxy_event_realloc(void *pointer, size_t size);
void slotproxy_event_free(void *pointer);

#endif
