# kindred_options.cmake — build switches, shared as INTERFACE targets (never global flags).
#   kindred::warnings   — our warning set; link PRIVATE from every target we own.
#   kindred::sanitizers — KINDRED_SANITIZE flags; link PUBLIC so executables inherit them.

option(KINDRED_WERROR "Treat warnings as errors (CI turns this on)" OFF)
option(KINDRED_BUILD_TESTS "Build the test suites" ON)
option(KINDRED_FUZZ "Build libFuzzer targets (needs clang)" OFF)
set(KINDRED_SANITIZE "" CACHE STRING "Comma-separated sanitizers: address,undefined or thread")

option(KINDRED_PCH "Shared precompiled headers for the tests and for the libraries (GCC)" ON)
option(KINDRED_UNITY "Compile the biggest targets a few files at a time (unity build)" ON)

# kindred_unity(<target>...): compiles each target's sources six at a time, so the headers they
# share are parsed and their templates instantiated once per batch rather than once per file
# (kindred_server_core: 41 s of compiler CPU → 24 s). Off (-DKINDRED_UNITY=OFF) makes a change
# to one file recompile only that file. The sources of such a target must not define the same
# name in their anonymous namespaces.
function(kindred_unity)
  if(KINDRED_UNITY)
    foreach(t ${ARGN})
      if(TARGET ${t})
        set_target_properties(${t} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 6)
        # A test fixture in one file's anonymous namespace is the base of its TEST_F classes,
        # declared outside it: GCC warns when that file is not the main file, which in a unity
        # batch it is not. Both stay inside the batch, so nothing is shared across files.
        target_compile_options(${t} PRIVATE $<$<CXX_COMPILER_ID:GNU>:-Wno-subobject-linkage>)
      endif()
    endforeach()
  endif()
endfunction()

find_program(KINDRED_CCACHE ccache)
if(KINDRED_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  if(KINDRED_PCH)
    # ccache caches files built with a precompiled header only when told to be sloppy about
    # __TIME__/__DATE__ and the header's #defines (ccache manual, "Precompiled headers"); the
    # user's own sloppiness settings are kept.
    execute_process(COMMAND ${KINDRED_CCACHE} --get-config sloppiness
                    OUTPUT_VARIABLE kindred_sloppiness OUTPUT_STRIP_TRAILING_WHITESPACE
                    ERROR_QUIET)
    string(REPLACE " " "" kindred_sloppiness "${kindred_sloppiness}")
    if(kindred_sloppiness)
      string(APPEND kindred_sloppiness ",")
    endif()
    set(CMAKE_CXX_COMPILER_LAUNCHER
        ${CMAKE_COMMAND} -E env CCACHE_SLOPPINESS=${kindred_sloppiness}pch_defines,time_macros
        ${KINDRED_CCACHE})
  else()
    set(CMAKE_CXX_COMPILER_LAUNCHER ${KINDRED_CCACHE})
  endif()
endif()

add_library(kindred_warnings INTERFACE)
add_library(kindred::warnings ALIAS kindred_warnings)
target_compile_options(kindred_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Woverloaded-virtual
  -Wcast-align -Wimplicit-fallthrough
  $<$<BOOL:${KINDRED_WERROR}>:-Werror>)

add_library(kindred_sanitizers INTERFACE)
add_library(kindred::sanitizers ALIAS kindred_sanitizers)
if(KINDRED_SANITIZE)
  target_compile_options(kindred_sanitizers INTERFACE
    -fsanitize=${KINDRED_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(kindred_sanitizers INTERFACE -fsanitize=${KINDRED_SANITIZE})
endif()

# Debug builds: -g1 keeps line tables for backtraces but halves the debug info that Beast's
# templates produce, which is most of a Debug link's time here.
if(CMAKE_BUILD_TYPE STREQUAL "Debug")
  string(REPLACE "-g" "-g1" CMAKE_CXX_FLAGS_DEBUG "${CMAKE_CXX_FLAGS_DEBUG}")
endif()
