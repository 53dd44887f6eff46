# cmake -DDIR=<dir> -P cmake/no-parent-include.cmake (a ctest, layers_no_parent_include):
# fails naming every #include under DIR whose path holds `..`. Such an include reaches a
# directory of src/ from the including file's own directory, or through a link of the
# layer's include root (core/../auth/x.h), around the layering that CMake enforces
# (docs/architecture.md, "Layers").
file(GLOB_RECURSE files ${DIR}/*.c ${DIR}/*.h)
set(found "")
foreach(f ${files})
  file(STRINGS ${f} lines REGEX "^[ \t]*#[ \t]*include[ \t]*[\"<][^\">]*\\.\\.")
  foreach(line ${lines})
    string(APPEND found "${f}: ${line}\n")
  endforeach()
endforeach()
if(found)
  message(NOTICE "${found}") # one line each (FATAL_ERROR would wrap them)
  message(FATAL_ERROR "an include with `..` goes around the layers (above)")
endif()
