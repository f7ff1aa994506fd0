# kindred_lua.cmake — Lua scripts live as files (lua/<name>.lua, one per atomic operation) and
# are embedded as string constants in a generated header at configure time; editing a script
# or a prelude re-runs configure.
#   kindred_embed_lua(TARGET kindred_server NAMESPACE kindred::server::lua
#                     HEADER kindred/server/lua_scripts.hpp SCRIPTS session_create ...
#                     [PRELUDE lib/<file>.lua <script>... [<file>.lua <script>...]...])
# adds the generated folder to TARGET's include path (PRIVATE) and defines one
# `inline constexpr std::string_view <name>` per script in NAMESPACE.
# PRELUDE shares Lua functions between scripts, which Redis cannot do at run time (each script
# is one chunk): a prelude file (a path under lua/, ending in .lua) is prepended to each script
# named after it, up to the next .lua file. PRELUDE may be repeated; a script given several
# preludes gets them in the order given. The embedded text, and so the script's SHA, includes
# the preludes.
function(kindred_embed_lua)
  cmake_parse_arguments(L "" "TARGET;NAMESPACE;HEADER" "SCRIPTS;PRELUDE" ${ARGN})
  file(RELATIVE_PATH folder ${PROJECT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
  # prelude_<script>: the prelude paths of each script, in order.
  set(prelude "")
  foreach(item ${L_PRELUDE})
    if(item MATCHES "\\.lua$")
      set(prelude ${CMAKE_CURRENT_SOURCE_DIR}/lua/${item})
      if(NOT EXISTS ${prelude})
        message(FATAL_ERROR "kindred_embed_lua: no prelude ${prelude}")
      endif()
      set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${prelude})
    elseif(prelude STREQUAL "")
      message(FATAL_ERROR "kindred_embed_lua: PRELUDE must start with a .lua file, got ${item}")
    elseif(NOT item IN_LIST L_SCRIPTS)
      message(FATAL_ERROR "kindred_embed_lua: PRELUDE names ${item}, which is not in SCRIPTS")
    else()
      list(APPEND prelude_${item} ${prelude})
    endif()
  endforeach()
  set(text "// Generated from ${folder}/lua/*.lua by CMake; do not edit.\n")
  string(APPEND text "#pragma once\n#include <string_view>\nnamespace ${L_NAMESPACE} {\n")
  foreach(script ${L_SCRIPTS})
    set(path ${CMAKE_CURRENT_SOURCE_DIR}/lua/${script}.lua)
    set(body "")
    foreach(p ${prelude_${script}})
      file(READ ${p} part)
      string(APPEND body "${part}")
    endforeach()
    file(READ ${path} part)
    string(APPEND body "${part}")
    string(APPEND text "inline constexpr std::string_view ${script} = R\"lua(${body})lua\";\n")
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${path})
  endforeach()
  string(APPEND text "} // namespace ${L_NAMESPACE}\n")
  file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/generated/${L_HEADER} CONTENT "${text}" @ONLY)
  target_include_directories(${L_TARGET} PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/generated)
endfunction()
