# SPDX-License-Identifier: MIT
# The library's version: the one place it is set. project() (CMakeLists.txt),
# the generated irqroute/config.h (IRQROUTE_VERSION_*), the shared libraries'
# SONAME, the CMake package and pkg-config files and the Debian package read it.
# 0.2.0: public layouts changed (the Vic's delivery view, which the inline
# check reads; KE_INTERRUPT_PARAMETERS gained SpareLinks), so the ABI did.
set(IRQROUTE_VERSION 0.2.0)
