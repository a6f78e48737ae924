# SPDX-License-Identifier: MIT
# The API reference and its checks.
#
# `docs` (not part of ALL; `make docs` builds it): Doxygen over the public
# headers, the generated irqroute/config.h, README.md (the main page) and
# docs/*.md (related pages), with docs/Doxyfile.in configured here so that
# the version is cmake/IrqrouteVersion.cmake's. The headers' plain C comments
# become documentation through scripts/doxygen-filter. Any Doxygen warning
# fails the target (WARN_AS_ERROR). Output: <build>/docs/html/index.html.
#
# With IRQROUTE_BUILD_TESTS, the CTest cases (label "static"):
#   docs_comments          every function the public C headers declare has a
#                          comment (tests/docs/check_comments.py states the rule)
#   docs_comments_planted  the same check finds each missing comment planted
#                          in tests/docs/planted.h, and nothing else
#   docs_filter            scripts/doxygen-filter keeps every header's line
#                          count and converts the comments it should

find_program(IRQROUTE_PYTHON3 NAMES python3)
find_program(IRQROUTE_DOXYGEN NAMES doxygen)

set(IRQROUTE_DOCS_OUTPUT ${CMAKE_BINARY_DIR}/docs)
configure_file(${IRQROUTE_TOP}/docs/Doxyfile.in ${IRQROUTE_DOCS_OUTPUT}/Doxyfile @ONLY)

file(GLOB IRQROUTE_DOCS_INPUTS CONFIGURE_DEPENDS
    ${IRQROUTE_TOP}/include/irqroute/*.h ${IRQROUTE_TOP}/include/irqroute/*.hpp ${IRQROUTE_TOP}/docs/*.md)
if(IRQROUTE_DOXYGEN AND IRQROUTE_PYTHON3)
    add_custom_command(OUTPUT ${IRQROUTE_DOCS_OUTPUT}/html/index.html
        COMMAND ${CMAKE_COMMAND} -E rm -rf ${IRQROUTE_DOCS_OUTPUT}/html
        COMMAND ${IRQROUTE_DOXYGEN} ${IRQROUTE_DOCS_OUTPUT}/Doxyfile
        DEPENDS ${IRQROUTE_DOCS_OUTPUT}/Doxyfile ${IRQROUTE_DOCS_INPUTS} ${IRQROUTE_TOP}/README.md
                ${IRQROUTE_TOP}/scripts/doxygen-filter ${IRQROUTE_GENERATED_INCLUDE}/irqroute/config.h
        WORKING_DIRECTORY ${IRQROUTE_DOCS_OUTPUT}
        COMMENT "API reference (Doxygen): ${IRQROUTE_DOCS_OUTPUT}/html/index.html"
        VERBATIM)
    add_custom_target(docs DEPENDS ${IRQROUTE_DOCS_OUTPUT}/html/index.html)
else()
    add_custom_target(docs
        COMMAND ${CMAKE_COMMAND} -E echo "docs: needs doxygen and python3 (scripts/setup installs them)"
        COMMAND ${CMAKE_COMMAND} -E false
        VERBATIM)
endif()

if(IRQROUTE_BUILD_TESTS AND IRQROUTE_PYTHON3)
    add_test(NAME docs_comments
        COMMAND ${IRQROUTE_PYTHON3} ${IRQROUTE_TOP}/tests/docs/check_comments.py
                ${IRQROUTE_TOP}/include/irqroute)
    add_test(NAME docs_comments_planted
        COMMAND ${IRQROUTE_PYTHON3} ${IRQROUTE_TOP}/tests/docs/check_comments.py
                --expect ${IRQROUTE_TOP}/tests/docs/planted.expected ${IRQROUTE_TOP}/tests/docs/planted.h)
    add_test(NAME docs_filter
        COMMAND ${IRQROUTE_PYTHON3} ${IRQROUTE_TOP}/tests/docs/check_filter.py
                ${IRQROUTE_TOP}/scripts/doxygen-filter ${IRQROUTE_TOP}/include/irqroute)
    set_tests_properties(docs_comments docs_comments_planted docs_filter PROPERTIES LABELS "static")
endif()
