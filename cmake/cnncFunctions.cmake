# cnncFunctions.cmake: cnnc_add_model(), for projects that use cnnc at build
# time. Comes with the CMake package (find_package(cnnc) includes it); also
# usable inside cnnc's own tree, where it runs the `cnnc` target.
#
#   cnnc_add_model(NAME <target> MODEL <file.cnn|file.onnx>
#                  [PREFIX <c_prefix>] [SELF_TEST]
#                  [OPTIONS <cnnc options>...] [DEPENDS <files>...])
#
# Runs `cnnc MODEL -o <build>/cnnc_<target>/<target>.c` at build time, again
# whenever the model, its weights file (the `weights "FILE"` statement of a
# .cnn, relative to the model) or cnnc changes, and makes a static library
# <target> of the generated C whose include path holds <target>.h. PREFIX
# sets the C names (default: the model's name, so `model fashion` gives
# fashion_run()). OPTIONS go to cnnc as they are (-O0, --ram-budget 64K,
# ...); DEPENDS adds files that should also trigger a rebuild. SELF_TEST
# also writes cnnc's self-test program (--emit-test) and builds it as the
# executable <target>_selftest, registered with add_test() under that name.

function(_cnnc_model_weights model out)
  set(files "")
  if(model MATCHES "\\.cnn$")
    get_filename_component(model_dir "${model}" DIRECTORY)
    # A statement may share its line with others: `;` splits the line into
    # list items, and the weights statement is the item that matches.
    file(STRINGS "${model}" lines REGEX "^[ \t]*weights[ \t]*\"")
    foreach(line IN LISTS lines)
      if(line MATCHES "^[ \t]*weights[ \t]*\"([^\"]*)\"")
        get_filename_component(w "${CMAKE_MATCH_1}" ABSOLUTE BASE_DIR "${model_dir}")
        list(APPEND files "${w}")
      endif()
    endforeach()
  endif()
  set(${out} "${files}" PARENT_SCOPE)
endfunction()

function(_cnnc_executable out)
  if(TARGET cnnc::cnnc)
    set(${out} cnnc::cnnc PARENT_SCOPE)
  elseif(TARGET cnnc)
    set(${out} cnnc PARENT_SCOPE)
  else()
    message(FATAL_ERROR "cnnc_add_model: no cnnc executable; call find_package(cnnc) first")
  endif()
endfunction()

function(cnnc_add_model)
  cmake_parse_arguments(ARG "SELF_TEST" "NAME;MODEL;PREFIX" "OPTIONS;DEPENDS" ${ARGN})
  if(NOT ARG_NAME OR NOT ARG_MODEL)
    message(FATAL_ERROR "cnnc_add_model: NAME and MODEL are required")
  endif()
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "cnnc_add_model: unknown arguments: ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  get_filename_component(model "${ARG_MODEL}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  if(NOT EXISTS "${model}")
    message(FATAL_ERROR "cnnc_add_model: model '${model}' does not exist")
  endif()
  _cnnc_executable(exe)
  _cnnc_model_weights("${model}" weights)
  # An edited model may name another weights file: configure again then.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${model}")

  set(dir "${CMAKE_CURRENT_BINARY_DIR}/cnnc_${ARG_NAME}")
  set(c "${dir}/${ARG_NAME}.c")
  set(outputs "${c}" "${dir}/${ARG_NAME}.h")
  set(args "${model}" -o "${c}")
  if(ARG_PREFIX)
    list(APPEND args --name ${ARG_PREFIX})
  endif()
  if(ARG_SELF_TEST)
    list(APPEND args --emit-test "${dir}/${ARG_NAME}_test.c")
    list(APPEND outputs "${dir}/${ARG_NAME}_test.c")
  endif()
  file(MAKE_DIRECTORY "${dir}")
  add_custom_command(
    OUTPUT ${outputs}
    COMMAND ${exe} ${args} ${ARG_OPTIONS}
    DEPENDS "${model}" ${weights} ${ARG_DEPENDS} ${exe}
    COMMENT "cnnc ${ARG_MODEL} -> ${ARG_NAME}.c"
    VERBATIM)

  add_library(${ARG_NAME} STATIC "${c}")
  target_include_directories(${ARG_NAME} PUBLIC "${dir}")
  set_target_properties(${ARG_NAME} PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON)
  # No fused multiply-add: the generated C then computes what cnnc's
  # interpreter computes, bit for bit (docs/numerics.md).
  if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${ARG_NAME} PRIVATE -ffp-contract=off)
  endif()
  if(UNIX)
    target_link_libraries(${ARG_NAME} PUBLIC m)
  endif()

  if(ARG_SELF_TEST)
    add_executable(${ARG_NAME}_selftest "${dir}/${ARG_NAME}_test.c")
    target_link_libraries(${ARG_NAME}_selftest PRIVATE ${ARG_NAME})
    set_target_properties(${ARG_NAME}_selftest PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON)
    add_test(NAME ${ARG_NAME}_selftest COMMAND ${ARG_NAME}_selftest)
  endif()
endfunction()
