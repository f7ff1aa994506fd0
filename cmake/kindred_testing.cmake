# kindred_testing.cmake — kindred_add_test(): one GoogleTest executable, registered with ctest.
#   kindred_add_test(NAME kindred_protocol_tests SOURCES a_test.cpp LIBS kindred::protocol
#                    LABELS unit [TIMEOUT 60] [RUN_SERIAL])
# Labels in use: unit (no network, no clock), redis (starts a real redis-server),
# integration (real server processes), reliability (tests/reliability). Tests registered with
# add_test elsewhere add: js (JavaScript under node), deploy (deployment-file checks), browser.
# Each label also gets a target, kindred_tests_<label>, that builds every test of that label
# (and what it runs), so a build folder can be made ready for `ctest -L <label>` alone.
include(GoogleTest)
include(kindred_pch)

function(kindred_add_test)
  cmake_parse_arguments(T "RUN_SERIAL" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT KINDRED_BUILD_TESTS)
    return()
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main
                                          kindred::warnings kindred::sanitizers)
  kindred_precompile(${T_NAME} TEST)
  set(props LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT})
  if(T_RUN_SERIAL)
    list(APPEND props RUN_SERIAL TRUE)
  endif()
  # PRE_TEST: list the tests when ctest runs, not after every link (saves build time).
  gtest_discover_tests(${T_NAME} DISCOVERY_MODE PRE_TEST TEST_PREFIX "${T_NAME}."
                       PROPERTIES ${props})
  foreach(label ${T_LABELS})
    if(NOT TARGET kindred_tests_${label})
      add_custom_target(kindred_tests_${label})
    endif()
    add_dependencies(kindred_tests_${label} ${T_NAME})
  endforeach()
endfunction()
