# Warnings, sanitizers and visibility shared by every sds target.
add_library(sds_options INTERFACE)
target_compile_options(sds_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
                       -Wno-sign-conversion)
if(SDS_WERROR)
  target_compile_options(sds_options INTERFACE -Werror)
endif()
if(SDS_SANITIZE)
  set(SDS_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all
                          -fno-omit-frame-pointer)
  add_compile_options(${SDS_SANITIZER_FLAGS})
  add_link_options(${SDS_SANITIZER_FLAGS})
endif()
