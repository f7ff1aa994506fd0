// boost_json_src.cpp — Boost.JSON compiled header-only into the fuzzer, so its parser is
// instrumented too (coverage guides the fuzzer through JSON structure faster).
#include <boost/json/src.hpp>
