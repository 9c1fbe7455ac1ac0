#ifndef RILL_MALLOC_COUNTER_H
#define RILL_MALLOC_COUNTER_H
#include <stdint.h>

/// Number of allocations (malloc, calloc, realloc, aligned allocations) since the process started.
uint64_t rill_malloc_count(void);

#endif
