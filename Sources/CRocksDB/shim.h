#ifndef RILL_CROCKSDB_SHIM_H
#define RILL_CROCKSDB_SHIM_H
#include <rocksdb/c.h>
#endif
