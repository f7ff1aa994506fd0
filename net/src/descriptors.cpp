// descriptors.cpp — see descriptors.hpp.
#include <kindred/net/descriptors.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>

namespace kindred::net {

descriptor_table prepare_descriptor_table(std::size_t at_most) {
    descriptor_table t;
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return t;
    if (rl.rlim_cur < rl.rlim_max) {
        rlimit raised = rl;
        raised.rlim_cur = rl.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
    }
    t.limit = rl.rlim_cur == RLIM_INFINITY ? at_most : static_cast<std::size_t>(rl.rlim_cur);
    const std::size_t slots = std::min(t.limit, at_most);
    if (slots < 2) return t;
    // Duplicating any open descriptor onto the highest slot makes the kernel size the table
    // for it; closing it leaves the table as large. F_DUPFD_CLOEXEC would take the lowest free
    // slot, so dup3 onto an exact number (unused this early: nothing opens that many files).
    const int highest = static_cast<int>(slots - 1);
    if (::fcntl(highest, F_GETFD) != -1) return t; // already in use: the table is that big
    const int dup = ::dup3(STDERR_FILENO, highest, O_CLOEXEC);
    if (dup < 0) {
        // No stderr (closed by a supervisor): any descriptor will do.
        const int any = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (any < 0) return t;
        const int again = ::dup3(any, highest, O_CLOEXEC);
        ::close(any);
        if (again < 0) return t;
        ::close(again);
    } else {
        ::close(dup);
    }
    t.reserved = slots;
    return t;
}

} // namespace kindred::net
