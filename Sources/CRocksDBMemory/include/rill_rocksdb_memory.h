#ifndef RILL_ROCKSDB_MEMORY_H
#define RILL_ROCKSDB_MEMORY_H
// What RocksDB's C API (7.x) lacks for bounded memory: one write-buffer manager shared by every
// store of a process, charging its memtables to the shared block cache.
#include <stddef.h>
#include <rocksdb/c.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rill_write_buffer_manager_t rill_write_buffer_manager_t;

/// A manager capping all memtables together at `bytes`, counted against `cache`.
rill_write_buffer_manager_t *rill_write_buffer_manager_create(size_t bytes, rocksdb_cache_t *cache);
void rill_write_buffer_manager_destroy(rill_write_buffer_manager_t *manager);
/// Makes every database opened with `options` share `manager`.
void rill_options_set_write_buffer_manager(rocksdb_options_t *options, rill_write_buffer_manager_t *manager);
/// The bytes the manager's memtables use now.
size_t rill_write_buffer_manager_memory_usage(rill_write_buffer_manager_t *manager);

#ifdef __cplusplus
}
#endif
#endif
