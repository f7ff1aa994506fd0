// descriptors_test.cpp — prepare_descriptor_table: the kernel's table is grown (FDSize in
// /proc/self/status), no descriptor is left open, and the limit is reported.
#include <kindred/net/descriptors.hpp>

#include <fcntl.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace {

std::size_t table_size() {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("FDSize:", 0) == 0) return std::stoul(line.substr(7));
    return 0;
}

std::size_t open_descriptors() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
        ++n;
    return n;
}

TEST(DescriptorTable, GrowsTheTableOnceAndLeavesNothingOpen) {
    const auto open_before = open_descriptors();
    const auto t = kindred::net::prepare_descriptor_table(4096);
    ASSERT_GT(t.limit, 0u);
    if (t.limit < 4096) GTEST_SKIP() << "open-files limit " << t.limit << " is below 4096";
    EXPECT_EQ(t.reserved, 4096u);
    EXPECT_GE(table_size(), 4096u);
    EXPECT_EQ(::fcntl(4095, F_GETFD), -1); // the slot used to grow it is closed again
    EXPECT_EQ(open_descriptors(), open_before);
}

TEST(DescriptorTable, NeverReservesMoreThanTheLimit) {
    const auto t = kindred::net::prepare_descriptor_table(1u << 30);
    EXPECT_LE(t.reserved, t.limit);
}

} // namespace
