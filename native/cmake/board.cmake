# Included by the native CMake projects: when cross-building for the boards, link the C++ runtime
# statically (boards ship libstdc++ of GCC 9/10) and add board-compat.cc (glibc <= 2.31).
if(CMAKE_CROSSCOMPILING AND CMAKE_SYSTEM_PROCESSOR STREQUAL "aarch64")
  set(BMFLEET_BOARD_SOURCES ${CMAKE_CURRENT_LIST_DIR}/board-compat.cc)
  add_compile_definitions(BMFLEET_BOARD_GLIBC_2_17_DL=1)
  # libstdc++ stays shared: its static archive needs glibc 2.34+ symbols.
else()
  set(BMFLEET_BOARD_SOURCES "")
endif()
