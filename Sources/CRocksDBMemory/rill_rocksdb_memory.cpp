#include "rill_rocksdb_memory.h"

#include <memory>
#include <rocksdb/cache.h>
#include <rocksdb/options.h>
#include <rocksdb/version.h>
#include <rocksdb/write_buffer_manager.h>

// RocksDB's C API defines its handles in c.cc as structs holding the C++ objects; these are the
// same definitions (RocksDB 7.x).
struct rocksdb_options_t {
    rocksdb::Options rep;
};
struct rocksdb_cache_t {
    std::shared_ptr<rocksdb::Cache> rep;
};

// A header that does not match the library would corrupt memory: fail the build instead. These are
// the sizes librocksdb 7.8.3 allocates for the two handles (x86_64, libstdc++).
#if defined(__x86_64__) && defined(__GLIBCXX__) && ROCKSDB_MAJOR == 7
static_assert(sizeof(rocksdb_options_t) == 0x590, "rocksdb::Options differs from librocksdb 7.8's layout");
static_assert(sizeof(rocksdb_cache_t) == 0x10, "rocksdb_cache_t differs from librocksdb 7.8's layout");
#endif

struct rill_write_buffer_manager_t {
    std::shared_ptr<rocksdb::WriteBufferManager> rep;
};

extern "C" {

rill_write_buffer_manager_t *rill_write_buffer_manager_create(size_t bytes, rocksdb_cache_t *cache) {
    auto *manager = new rill_write_buffer_manager_t;
    manager->rep = std::make_shared<rocksdb::WriteBufferManager>(bytes, cache ? cache->rep : nullptr);
    return manager;
}

void rill_write_buffer_manager_destroy(rill_write_buffer_manager_t *manager) { delete manager; }

void rill_options_set_write_buffer_manager(rocksdb_options_t *options, rill_write_buffer_manager_t *manager) {
    options->rep.write_buffer_manager = manager->rep;
}

size_t rill_write_buffer_manager_memory_usage(rill_write_buffer_manager_t *manager) {
    return manager->rep->memory_usage();
}
}
