# kindred_lua.cmake — Lua scripts live as files (lua/<name>.lua, one per atomic operation) and
# are embedded as string constants in a generated header at configure time; editing a script
# re-runs configure.
#   kindred_embed_lua(TARGET kindred_server NAMESPACE kindred::server::lua
#                     HEADER kindred/server/lua_scripts.hpp SCRIPTS session_create ...)
# adds the generated folder to TARGET's include path (PRIVATE) and defines one
# `inline constexpr std::string_view <name>` per script in NAMESPACE.
function(kindred_embed_lua)
  cmake_parse_arguments(L "" "TARGET;NAMESPACE;HEADER" "SCRIPTS" ${ARGN})
  file(RELATIVE_PATH folder ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  set(text "// Generated from ${folder}/lua/*.lua by CMake; do not edit.\n")
  string(APPEND text "#pragma once\n#include <string_view>\nnamespace ${L_NAMESPACE} {\n")
  foreach(script ${L_SCRIPTS})
    set(path ${CMAKE_CURRENT_SOURCE_DIR}/lua/${script}.lua)
    file(READ ${path} body)
    string(APPEND text "inline constexpr std::string_view ${script} = R\"lua(${body})lua\";\n")
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${path})
  endforeach()
  string(APPEND text "} // namespace ${L_NAMESPACE}\n")
  file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/generated/${L_HEADER} CONTENT "${text}" @ONLY)
  target_include_directories(${L_TARGET} PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/generated)
endfunction()
