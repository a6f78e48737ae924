# SPDX-License-Identifier: MIT
# The package tests that need a build of their own (label "unit").
# symbol_prefix: a library-only build with -DIRQROUTE_SYMBOL_PREFIX=irq_ links
# into a program with an NT-like kernel's own Ke.../Io... functions
# (tests/package/symbol_prefix.sh). Where this build makes the installed
# static libraries (IRQROUTE_INSTALL, no sanitizer, no fuzzing), the test
# also links the program against them and requires that link to fail.
set(IRQROUTE_SYMBOL_PREFIX_CONTROL)
if(IRQROUTE_INSTALL AND IRQROUTE_SANITIZE STREQUAL "" AND NOT IRQROUTE_FUZZ AND IRQROUTE_SYMBOL_PREFIX STREQUAL "")
    set(IRQROUTE_SYMBOL_PREFIX_CONTROL
        $<TARGET_FILE:irqroute_core_static> $<TARGET_FILE:irqroute_sim_static> ${IRQROUTE_GENERATED_INCLUDE})
endif()
add_test(NAME symbol_prefix
    COMMAND bash ${CMAKE_SOURCE_DIR}/tests/package/symbol_prefix.sh ${CMAKE_C_COMPILER} ${CMAKE_SOURCE_DIR}
            ${CMAKE_BINARY_DIR}/symbol-prefix ${CMAKE_GENERATOR} ${IRQROUTE_SYMBOL_PREFIX_CONTROL})
set_tests_properties(symbol_prefix PROPERTIES LABELS "unit" TIMEOUT 900)

# Every source file carries the licence's SPDX line (tests/package/spdx.sh).
add_test(NAME spdx COMMAND bash ${CMAKE_SOURCE_DIR}/tests/package/spdx.sh ${CMAKE_SOURCE_DIR})
set_tests_properties(spdx PROPERTIES LABELS "static")
