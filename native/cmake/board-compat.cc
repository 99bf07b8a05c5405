// Linked into the aarch64 builds only (native/cmake/board.cmake). SE5/SE7 boards run Ubuntu 20.04
// class systems with glibc 2.31, while the cross toolchain's headers are newer: libstdc++'s
// inline code reads __libc_single_threaded (a glibc 2.32 symbol). A local definition set to 0
// ("not known to be single-threaded") keeps every atomic operation and removes the dependency.
extern "C" __attribute__((visibility("hidden"))) char __libc_single_threaded = 0;

// GCC 11+ headers call std::__throw_bad_array_new_length (GLIBCXX_3.4.29, GCC 11); the boards'
// libstdc++ is older. A local definition throws what older libstdc++ throws for a bad size.
#include <new>
namespace std {
[[noreturn]] __attribute__((visibility("hidden"))) void __throw_bad_array_new_length() {
  throw std::bad_alloc();
}
}  // namespace std
