# SPDX-License-Identifier: MIT
# What `cmake --install` and `make package` deliver: the libraries as a user
# links them, their headers, a CMake package and pkg-config files, and the
# Debian package CPack makes of all that.
#
#   irqroute::core   libirqroute       every layer (Hl, Ke, Io, Route, Vic, Balance, base);
#                                      the program supplies the platform hooks
#                                      (include/irqroute/platform.h) or links sim
#   irqroute::vic    libirqroute-vic   the Vic and the router alone, for an emulator:
#                                      its one hook is PlatCpuRelax
#   irqroute::sim    libirqroute-sim   the register models on host threads and the
#                                      sim's boot sequence (the hooks, defined)
# each also as <name>_static. Only what the public headers declare is
# exported (cmake/irqroute.exports; the test exported_symbols checks it):
# the shared libraries are built with -fvisibility=hidden, and each static
# archive is one relocatable object whose hidden symbols are made local,
# so a program can never bind to Ki*, Iop* or Vicp* by accident.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(IRQROUTE_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/irqroute)

# irqroute_add_installed_library(<name> <output name> LAYERS <layers>...)
# Makes irqroute_<name>_static (prelinked from the layers' objects) and
# irqroute_<name>_shared (from a position-independent build of the same
# sources), exported as irqroute::<name>_static and irqroute::<name>.
function(irqroute_add_installed_library name output)
    cmake_parse_arguments(PARSE_ARGV 2 ARG "" "" "LAYERS")
    set(objects)
    set(pic_objects)
    foreach(layer IN LISTS ARG_LAYERS)
        list(APPEND objects $<TARGET_OBJECTS:irqroute_layer_${layer}>)
        list(APPEND pic_objects $<TARGET_OBJECTS:irqroute_pic_${layer}>)
    endforeach()
    # One object, hidden symbols local: ld -r, then objcopy --localize-hidden.
    set(prelinked ${CMAKE_CURRENT_BINARY_DIR}/${output}-prelinked.o)
    add_custom_command(OUTPUT ${prelinked}
        COMMAND ${CMAKE_LINKER} -r -o ${prelinked} ${objects}
        COMMAND ${CMAKE_OBJCOPY} --localize-hidden ${prelinked}
        DEPENDS ${objects}
        COMMAND_EXPAND_LISTS
        COMMENT "${output}: one relocatable object, internal symbols local")
    set_source_files_properties(${prelinked} PROPERTIES EXTERNAL_OBJECT TRUE GENERATED TRUE)
    add_library(irqroute_${name}_static STATIC ${prelinked})
    set_target_properties(irqroute_${name}_static PROPERTIES OUTPUT_NAME ${output} LINKER_LANGUAGE C
        EXPORT_NAME ${name}_static)
    add_library(irqroute_${name}_shared SHARED ${pic_objects})
    set_target_properties(irqroute_${name}_shared PROPERTIES OUTPUT_NAME ${output} EXPORT_NAME ${name}
        VERSION ${IRQROUTE_VERSION} SOVERSION ${IRQROUTE_SOVERSION})
    foreach(target irqroute_${name}_shared irqroute_${name}_static)
        target_include_directories(${target} INTERFACE
            $<BUILD_INTERFACE:${IRQROUTE_TOP}/include> $<BUILD_INTERFACE:${IRQROUTE_GENERATED_INCLUDE}>
            $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
    endforeach()
endfunction()

# Position-independent objects of every layer for the shared libraries.
irqroute_add_library_layers(irqroute_pic OPTIONS ${IRQROUTE_WARNINGS} -ffreestanding -fvisibility=hidden)
foreach(layer IN LISTS IRQROUTE_LAYERS)
    set_target_properties(irqroute_pic_${layer} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endforeach()

irqroute_add_installed_library(core irqroute LAYERS ${IRQROUTE_LAYERS})
irqroute_add_installed_library(vic irqroute-vic LAYERS base route vic)

# The sim: models, hooks and boot sequence over the installed core.
set(IRQROUTE_SIM_INSTALLED_SOURCES ${IRQROUTE_SIM_SOURCES} ${CMAKE_SOURCE_DIR}/platform/sim/simboot.c)
add_library(irqroute_sim_shared SHARED ${IRQROUTE_SIM_INSTALLED_SOURCES})
add_library(irqroute_sim_static STATIC ${IRQROUTE_SIM_INSTALLED_SOURCES})
set_target_properties(irqroute_sim_shared PROPERTIES OUTPUT_NAME irqroute-sim EXPORT_NAME sim
    VERSION ${IRQROUTE_VERSION} SOVERSION ${IRQROUTE_SOVERSION})
set_target_properties(irqroute_sim_static PROPERTIES OUTPUT_NAME irqroute-sim EXPORT_NAME sim_static)
target_link_libraries(irqroute_sim_shared PUBLIC irqroute_core_shared Threads::Threads)
target_link_libraries(irqroute_sim_static PUBLIC irqroute_core_static Threads::Threads)
foreach(target irqroute_sim_shared irqroute_sim_static)
    target_compile_options(${target} PRIVATE ${IRQROUTE_WARNINGS})
    # Installed as <irqroute/sim/sim.h> and <irqroute/sim/simboot.h>.
    target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR}/platform/sim)
endforeach()

# ---- install ------------------------------------------------------------------
install(TARGETS irqroute_core_shared irqroute_core_static irqroute_vic_shared irqroute_vic_static
        irqroute_sim_shared irqroute_sim_static EXPORT irqrouteTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} NAMELINK_COMPONENT Development
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
file(GLOB IRQROUTE_PUBLIC_HEADERS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/include/irqroute/*.h
    ${CMAKE_SOURCE_DIR}/include/irqroute/*.hpp)
install(FILES ${IRQROUTE_PUBLIC_HEADERS} ${IRQROUTE_GENERATED_INCLUDE}/irqroute/config.h
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/irqroute)
install(FILES ${CMAKE_SOURCE_DIR}/platform/sim/sim.h ${CMAKE_SOURCE_DIR}/platform/sim/simboot.h
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/irqroute/sim)
install(EXPORT irqrouteTargets NAMESPACE irqroute:: DESTINATION ${IRQROUTE_CMAKE_INSTALL_DIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/irqrouteConfig.cmake.in
    ${CMAKE_CURRENT_BINARY_DIR}/irqrouteConfig.cmake INSTALL_DESTINATION ${IRQROUTE_CMAKE_INSTALL_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/irqrouteConfigVersion.cmake
    COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/irqrouteConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/irqrouteConfigVersion.cmake
    DESTINATION ${IRQROUTE_CMAKE_INSTALL_DIR})
# Relocatable: the prefix is found from where the .pc file lies, so a
# package unpacked under any directory still works with PKG_CONFIG_PATH.
file(RELATIVE_PATH IRQROUTE_PC_TO_PREFIX ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" IRQROUTE_PC_TO_PREFIX "${IRQROUTE_PC_TO_PREFIX}")
foreach(pc irqroute irqroute-vic irqroute-sim)
    configure_file(${CMAKE_SOURCE_DIR}/cmake/${pc}.pc.in ${CMAKE_CURRENT_BINARY_DIR}/${pc}.pc @ONLY)
    install(FILES ${CMAKE_CURRENT_BINARY_DIR}/${pc}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()
install(FILES ${CMAKE_SOURCE_DIR}/LICENSE ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/CHANGELOG.md
    DESTINATION ${CMAKE_INSTALL_DOCDIR})

# ---- the Debian package (make package) --------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME libirqroute-dev)
set(CPACK_PACKAGE_VENDOR "irqroute")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "dynamic interrupt routing for kernels and machine emulators")
set(CPACK_PACKAGE_VERSION ${IRQROUTE_VERSION})
set(CPACK_PACKAGE_CONTACT "irqroute developers <irqroute@invalid>")
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_RESOURCE_FILE_LICENSE ${CMAKE_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
include(CPack)

# The exported symbols are the public API (tests/package/exported_symbols.sh).
if(IRQROUTE_BUILD_TESTS)
    add_test(NAME exported_symbols
        COMMAND bash ${CMAKE_SOURCE_DIR}/tests/package/exported_symbols.sh
                ${CMAKE_SOURCE_DIR}/cmake/irqroute.exports ${CMAKE_BINARY_DIR})
    set_tests_properties(exported_symbols PROPERTIES LABELS "static")
endif()
