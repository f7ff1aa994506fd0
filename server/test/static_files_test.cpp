// static_files_test.cpp — path resolution under a temporary web_root: index, content types,
// and every traversal form (.., encoded .., encoded slash, NUL, backslash, symlink out).
#include <kindred/server/static_files.hpp>
#include <kindred/testsupport/process.hpp>

#include <gtest/gtest.h>

#include <fstream>

namespace ks = kindred::server;
namespace fs = std::filesystem;

namespace {

class StaticFilesTest : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = dir_.path() / "web";
        fs::create_directories(root_ / "css");
        fs::create_directories(root_ / "sub");
        write(root_ / "index.html", "<h1>hi</h1>");
        write(root_ / "css" / "app.css", "body{}");
        write(root_ / "sub" / "index.html", "sub");
        write(root_ / "a b.txt", "space");
        write(root_ / ".env", "secret");
        write(dir_.path() / "secret.txt", "outside");
        fs::create_symlink(dir_.path() / "secret.txt", root_ / "link.txt");
        fs::create_symlink(dir_.path(), root_ / "up");
        fs::create_symlink(root_ / "css" / "app.css", root_ / "inside.css");
        root_ = *ks::canonical_web_root(root_);
    }
    static void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }
    std::optional<ks::static_file> get(std::string_view target) {
        return ks::resolve_static(root_, target);
    }

    kindred::testsupport::temp_dir dir_{"kindred-static"};
    fs::path root_;
};

} // namespace

TEST_F(StaticFilesTest, RootAndFolderServeIndex) {
    auto r = get("/");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->path, root_ / "index.html");
    EXPECT_EQ(r->content_type, "text/html; charset=utf-8");
    ASSERT_TRUE(get("/sub/"));
    EXPECT_EQ(get("/sub/")->path, root_ / "sub" / "index.html");
    ASSERT_TRUE(get("/sub"));
    EXPECT_EQ(get("/?x=1")->path, root_ / "index.html");
}

TEST_F(StaticFilesTest, FilesGetTheirContentType) {
    ASSERT_TRUE(get("/css/app.css"));
    EXPECT_EQ(get("/css/app.css")->content_type, "text/css; charset=utf-8");
    ASSERT_TRUE(get("/a%20b.txt"));
    EXPECT_EQ(get("/a%20b.txt")->content_type, "text/plain; charset=utf-8");
    EXPECT_EQ(ks::content_type_for("x.JS"), "text/javascript; charset=utf-8");
    EXPECT_EQ(ks::content_type_for("x.unknown"), "application/octet-stream");
}

TEST_F(StaticFilesTest, SymlinkInsideRootIsServed) {
    ASSERT_TRUE(get("/inside.css"));
    EXPECT_EQ(get("/inside.css")->path, root_ / "css" / "app.css");
}

TEST_F(StaticFilesTest, TraversalIsNotFound) {
    for (const char* target : {
             "/../secret.txt",
             "/css/../../secret.txt",
             "/%2e%2e/secret.txt",
             "/%2E%2E/secret.txt",
             "/css/%2e%2e%2f%2e%2e%2fsecret.txt",
             "/..%2fsecret.txt",
             "/css%2fapp.css",
             "/index.html%00.css",
             "/%00",
             "/..\\secret.txt",
             "/link.txt",
             "/up/secret.txt",
             "/.env",
             "/%2eenv",
             "/missing.html",
             "/%zz",
             "/%2",
             "relative.html",
             "",
         }) {
        EXPECT_FALSE(get(target)) << target;
    }
}

TEST_F(StaticFilesTest, PercentDecoding) {
    bool slash = false;
    EXPECT_EQ(ks::percent_decode("/a%20b", slash), "/a b");
    EXPECT_FALSE(slash);
    EXPECT_EQ(ks::percent_decode("/a%2Fb", slash), "/a/b");
    EXPECT_TRUE(slash);
    EXPECT_FALSE(ks::percent_decode("/a%2", slash));
    EXPECT_FALSE(ks::percent_decode("/a%g0", slash));
}

TEST(StaticFiles, MissingRootIsNotADirectory) {
    EXPECT_FALSE(ks::canonical_web_root("/definitely/not/here"));
}
