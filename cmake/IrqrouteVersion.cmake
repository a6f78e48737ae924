# SPDX-License-Identifier: MIT
# The library's version: the one place it is set. project() (CMakeLists.txt),
# the generated irqroute/config.h (IRQROUTE_VERSION_*), the shared libraries'
# SONAME, the CMake package and pkg-config files and the Debian package read it.
set(IRQROUTE_VERSION 0.1.0)
