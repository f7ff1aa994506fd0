// descriptors.hpp — the process's file-descriptor table, prepared for many sockets: the soft
// RLIMIT_NOFILE raised to the hard one, and the kernel's descriptor table grown once, up
// front. Linux grows that table by doubling when a new descriptor does not fit, and in a
// multi-threaded process every growth waits for an RCU grace period inside accept() or
// socket(): the calling thread sleeps (uninterruptibly) for ~10–20 ms at 1,024, 2,048,
// 4,096, … connections, and every connection on that thread waits with it
// (docs/performance.md, "match"). The table never shrinks, so growing it at start-up,
// before other threads exist, costs one allocation (about 8 bytes per slot) and no stall.
// Threading: call from main before starting threads. POSIX only; no Asio.
#pragma once

#include <cstddef>

namespace kindred::net {

struct descriptor_table {
    std::size_t limit = 0;    // the soft RLIMIT_NOFILE after raising it (0: unknown)
    std::size_t reserved = 0; // slots the table now holds at least (0: not grown)
};

// Raises the soft limit to the hard one, then grows the table to min(limit, at_most) slots.
descriptor_table prepare_descriptor_table(std::size_t at_most = 65536);

} // namespace kindred::net
