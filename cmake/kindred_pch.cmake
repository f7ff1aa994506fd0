# kindred_pch.cmake — precompiled headers (KINDRED_PCH, default on with GCC): two shared ones per
# build folder, one for the test executables (GoogleTest, Boost.JSON, libsodium and the standard
# headers) and one for the libraries and programs (Boost.JSON and the standard headers).
#
# Why: the standard library is ~80k of the ~140k lines every file here parses, Boost.JSON and
# GoogleTest most of the rest; a test file then compiles in about 40 % of the time
# (matching_test: 3.0 s → 1.2 s). Shared (REUSE_FROM), not one per target: a header takes ~5 s
# and ~150 MB to build. A target whose flags differ from its header's host would silently parse
# the headers instead, so -Winvalid-pch says so (an error with warnings as errors); the hosts
# link what gives the headers their macros (Boost.JSON's, libsodium's, the sanitizers'), and
# every user links them too.
#   kindred_precompile(<target> [TEST])  — called by kindred_add_test
#   kindred_precompile_everything()       — the libraries and programs, from the top level

set(kindred_pch_std
  <algorithm> <array> <atomic> <chrono> <cstdint> <cstdio> <filesystem> <fstream>
  <functional> <future> <map> <memory> <mutex> <optional> <regex> <set> <sstream>
  <string> <string_view> <thread> <variant> <vector>)

function(kindred_pch_host name)
  cmake_parse_arguments(H "" "" "HEADERS;LIBS" ${ARGN})
  if(TARGET ${name})
    return()
  endif()
  set(source ${CMAKE_BINARY_DIR}/${name}.cpp)
  if(NOT EXISTS ${source})
    file(WRITE ${source} "// The host of a shared precompiled header (cmake/kindred_pch.cmake).\n")
  endif()
  add_library(${name} OBJECT ${source})
  target_link_libraries(${name} PRIVATE ${H_LIBS} kindred::warnings kindred::sanitizers)
  target_precompile_headers(${name} PRIVATE ${H_HEADERS})
endfunction()

function(kindred_precompile target)
  cmake_parse_arguments(P "TEST" "" "" ${ARGN})
  if(NOT KINDRED_PCH OR NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    return()
  endif()
  if(P_TEST)
    set(host kindred_test_pch)
    set(libs GTest::gtest Boost::json PkgConfig::sodium)
    kindred_pch_host(${host} LIBS ${libs}
                     HEADERS <gtest/gtest.h> <boost/json.hpp> <sodium.h> ${kindred_pch_std})
  else()
    set(host kindred_pch)
    set(libs Boost::json)
    kindred_pch_host(${host} LIBS ${libs} HEADERS <boost/json.hpp> ${kindred_pch_std})
  endif()
  target_link_libraries(${target} PRIVATE ${libs})
  target_precompile_headers(${target} REUSE_FROM ${host})
  target_compile_options(${target} PRIVATE -Winvalid-pch)
endfunction()

# Every static library and program of ours under `dir` that has no precompiled header yet.
function(kindred_precompile_everything dir)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  foreach(t ${targets})
    get_target_property(type ${t} TYPE)
    get_target_property(reuse ${t} PRECOMPILE_HEADERS_REUSE_FROM)
    if(t MATCHES "^kindred" AND NOT t MATCHES "_pch$" AND NOT reuse
       AND type MATCHES "^(STATIC_LIBRARY|EXECUTABLE)$")
      kindred_precompile(${t})
    endif()
  endforeach()
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub ${subdirs})
    kindred_precompile_everything(${sub})
  endforeach()
endfunction()
