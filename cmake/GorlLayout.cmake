# The build enforces the layout: each target exposes only the headers of its
# own folder. They are linked, one symlink per header, into
# <build>/include/<target>/<folder>/, and that directory (never the source
# root) is the target's public include path. A file that includes another
# folder's header therefore compiles only if its target links that folder's
# target, directly or through a dependency; a forgotten link is a compile
# error, not a layering rot that nobody notices.
#
#   gorl_expose_headers(gorl_runtime runtime)      # runtime/*.h
#   gorl_expose_headers(gorl_nn common/nn)         # common/nn/*.h only

function(gorl_expose_headers target folder)
  set(stage ${CMAKE_BINARY_DIR}/include/${target})
  # Restaged at every configure, so a removed header is gone from it too.
  file(REMOVE_RECURSE ${stage}/${folder})
  file(MAKE_DIRECTORY ${stage}/${folder})
  file(GLOB headers CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${folder}/*.h)
  foreach(header ${headers})
    get_filename_component(name ${header} NAME)
    file(CREATE_LINK ${header} ${stage}/${folder}/${name} SYMBOLIC)
  endforeach()
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "INTERFACE_LIBRARY")
    target_include_directories(${target} INTERFACE ${stage})
  elseif(type STREQUAL "EXECUTABLE")
    target_include_directories(${target} PRIVATE ${stage})
  else()
    target_include_directories(${target} PUBLIC ${stage})
  endif()
endfunction()
