# SPDX-License-Identifier: MIT
# The library's layers: the one list of its sources, and the one statement
# of which layer may use which. The host build (CMakeLists.txt), the kernel
# build (kernel/CMakeLists.txt) and the static checks (tests/layering,
# tests/freestanding) all read it.
#
#   layer  sources               public header(s)            may use
#   base   src/base              status.h cpuset.h platform.h
#   hl     src/hl src/hl/x86     hl.h                        base
#   ke     src/ke                ke.h                        hl base
#   route  src/route             router.h                    base
#   vic    src/vic               vic.h                       route base
#   io     src/io                io.h                        ke hl route base
#   balance src/balance          balance.h                   io ke hl route base
#
# How the build enforces it: each layer compiles as an object library whose
# include path holds a view of include/irqroute/ with only the public
# headers of the layer and of the layers it may use (links in the build
# tree), its own private directory, and src/base, whose irlock.h is the one
# library-internal header every layer shares. An upward or sideways include
# therefore fails with "No such file". A quoted include with a path
# ("../ke/ki.h") would get past an include path; tests/layering/check.sh
# forbids those, and catches an upward call the compiler cannot see (a
# hand-written prototype) from the objects' symbols.

set(IRQROUTE_TOP ${CMAKE_CURRENT_LIST_DIR}/..)
cmake_path(NORMAL_PATH IRQROUTE_TOP)
string(REGEX REPLACE "/$" "" IRQROUTE_TOP "${IRQROUTE_TOP}")

set(IRQROUTE_LAYERS base hl ke route vic io balance)

# irqroute/config.h, generated (cmake/config.h.in): the version, the C/C++
# declaration brackets and, with IRQROUTE_SYMBOL_PREFIX, the renaming of
# every exported symbol (cmake/irqroute.exports). Every public header
# includes it, so every layer's view holds it too.
include(${IRQROUTE_TOP}/cmake/IrqrouteVersion.cmake)
string(REPLACE "." ";" IRQROUTE_VERSION_PARTS ${IRQROUTE_VERSION})
list(GET IRQROUTE_VERSION_PARTS 0 IRQROUTE_VERSION_MAJOR)
list(GET IRQROUTE_VERSION_PARTS 1 IRQROUTE_VERSION_MINOR)
list(GET IRQROUTE_VERSION_PARTS 2 IRQROUTE_VERSION_PATCH)
# The shared libraries' SONAME version: the major version from 1.0 on; in
# the 0.x series every minor version may change the ABI (public structures
# that inline functions read included), so it is 0.<minor> there, and
# programs built against one 0.x never load another.
if(IRQROUTE_VERSION_MAJOR EQUAL 0)
    set(IRQROUTE_SOVERSION 0.${IRQROUTE_VERSION_MINOR})
else()
    set(IRQROUTE_SOVERSION ${IRQROUTE_VERSION_MAJOR})
endif()
set(IRQROUTE_SYMBOL_PREFIX "" CACHE STRING
    "A prefix for every symbol the library exports (for a kernel with Ke/Io functions of its own)")
set(IRQROUTE_GENERATED_INCLUDE ${CMAKE_BINARY_DIR}/irqroute-generated/include)
set(IRQROUTE_PREFIX_DEFINES "")
if(NOT IRQROUTE_SYMBOL_PREFIX STREQUAL "")
    if(NOT IRQROUTE_SYMBOL_PREFIX MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
        message(FATAL_ERROR "IRQROUTE_SYMBOL_PREFIX must be a C identifier, not '${IRQROUTE_SYMBOL_PREFIX}'")
    endif()
    file(STRINGS ${IRQROUTE_TOP}/cmake/irqroute.exports IRQROUTE_EXPORTED_SYMBOLS REGEX "^[A-Za-z]")
    foreach(symbol IN LISTS IRQROUTE_EXPORTED_SYMBOLS)
        string(APPEND IRQROUTE_PREFIX_DEFINES "#define ${symbol} ${IRQROUTE_SYMBOL_PREFIX}${symbol}\n")
    endforeach()
    string(REPLACE "\n" "
" IRQROUTE_PREFIX_DEFINES "${IRQROUTE_PREFIX_DEFINES}")
endif()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${IRQROUTE_TOP}/cmake/irqroute.exports)
configure_file(${IRQROUTE_TOP}/cmake/config.h.in ${IRQROUTE_GENERATED_INCLUDE}/irqroute/config.h @ONLY)

set(IRQROUTE_LAYER_base_DIRS src/base)
set(IRQROUTE_LAYER_base_HEADERS status.h cpuset.h platform.h)
set(IRQROUTE_LAYER_base_USES)

set(IRQROUTE_LAYER_hl_DIRS src/hl src/hl/x86)
set(IRQROUTE_LAYER_hl_HEADERS hl.h)
set(IRQROUTE_LAYER_hl_USES base)

set(IRQROUTE_LAYER_ke_DIRS src/ke)
set(IRQROUTE_LAYER_ke_HEADERS ke.h)
set(IRQROUTE_LAYER_ke_USES hl base)

set(IRQROUTE_LAYER_route_DIRS src/route)
set(IRQROUTE_LAYER_route_HEADERS router.h)
set(IRQROUTE_LAYER_route_USES base)

set(IRQROUTE_LAYER_vic_DIRS src/vic)
set(IRQROUTE_LAYER_vic_HEADERS vic.h)
set(IRQROUTE_LAYER_vic_USES route base)

set(IRQROUTE_LAYER_io_DIRS src/io)
set(IRQROUTE_LAYER_io_HEADERS io.h)
set(IRQROUTE_LAYER_io_USES ke hl route base)

# The balancer (docs/balancer.md) drives Io's moves from Ke's counts; it
# calls no Hl function, but io.h includes hl.h, so Hl's header is in its view.
set(IRQROUTE_LAYER_balance_DIRS src/balance)
set(IRQROUTE_LAYER_balance_HEADERS balance.h)
set(IRQROUTE_LAYER_balance_USES io ke hl route base)

# irqroute_layer_sources(<layer> <out-var>): the layer's .c files.
function(irqroute_layer_sources layer out)
    set(sources)
    foreach(dir IN LISTS IRQROUTE_LAYER_${layer}_DIRS)
        file(GLOB found CONFIGURE_DEPENDS ${IRQROUTE_TOP}/${dir}/*.c)
        list(APPEND sources ${found})
    endforeach()
    set(${out} ${sources} PARENT_SCOPE)
endfunction()

# irqroute_layer_include_dirs(<layer> <out-var>): what the layer may
# include, and nothing more. Creates the layer's view of the public
# headers under the build tree the first time.
function(irqroute_layer_include_dirs layer out)
    set(view ${CMAKE_BINARY_DIR}/irqroute-layer-views/${layer})
    if(NOT EXISTS ${view}/irqroute/config.h)
        file(MAKE_DIRECTORY ${view}/irqroute)
        file(CREATE_LINK ${IRQROUTE_GENERATED_INCLUDE}/irqroute/config.h ${view}/irqroute/config.h SYMBOLIC)
    endif()
    foreach(visible IN ITEMS ${layer} ${IRQROUTE_LAYER_${layer}_USES})
        foreach(header IN LISTS IRQROUTE_LAYER_${visible}_HEADERS)
            if(NOT EXISTS ${view}/irqroute/${header})
                file(MAKE_DIRECTORY ${view}/irqroute)
                file(CREATE_LINK ${IRQROUTE_TOP}/include/irqroute/${header} ${view}/irqroute/${header} SYMBOLIC)
            endif()
        endforeach()
    endforeach()
    # A subdirectory (src/hl/x86) is a back end of its layer: it sees the
    # layer's private directory, the first one listed, and no other.
    list(GET IRQROUTE_LAYER_${layer}_DIRS 0 private)
    set(${out} ${view} ${IRQROUTE_TOP}/${private} ${IRQROUTE_TOP}/src/base PARENT_SCOPE)
endfunction()

# irqroute_add_library_layers(<prefix> [OPTIONS <compile options>...])
# One object library <prefix>_<layer> per layer, compiled with OPTIONS.
# Sets <prefix>_OBJECTS (every layer's objects, as generator expressions)
# in the caller's scope.
function(irqroute_add_library_layers prefix)
    cmake_parse_arguments(PARSE_ARGV 1 ARG "" "" "OPTIONS")
    set(objects)
    foreach(layer IN LISTS IRQROUTE_LAYERS)
        irqroute_layer_sources(${layer} sources)
        irqroute_layer_include_dirs(${layer} includes)
        add_library(${prefix}_${layer} OBJECT ${sources})
        target_include_directories(${prefix}_${layer} PRIVATE ${includes})
        target_compile_options(${prefix}_${layer} PRIVATE ${ARG_OPTIONS})
        list(APPEND objects $<TARGET_OBJECTS:${prefix}_${layer}>)
    endforeach()
    set(${prefix}_OBJECTS ${objects} PARENT_SCOPE)
endfunction()

# irqroute_layering_arguments(<prefix> <out-var>): the arguments that tell
# tests/layering/check.sh each layer's name, what it may use and its
# objects (colon-separated), for the layers built by
# irqroute_add_library_layers(<prefix>).
function(irqroute_layering_arguments prefix out)
    set(arguments)
    foreach(layer IN LISTS IRQROUTE_LAYERS)
        string(REPLACE ";" "," uses "${IRQROUTE_LAYER_${layer}_USES}")
        if(uses STREQUAL "")
            set(uses none) # an empty argument would vanish from the list
        endif()
        list(APPEND arguments --layer ${layer} "${uses}"
            "$<JOIN:$<TARGET_OBJECTS:${prefix}_${layer}>,:>")
    endforeach()
    set(${out} ${arguments} PARENT_SCOPE)
endfunction()
