# SPDX-License-Identifier: MIT
# The layering tests (label "static"), over the host build's layer objects
# (cmake/IrqrouteLayers.cmake). `layering` checks the tree; `layering_planted`
# plants one violation of each kind and requires every check to catch it.
irqroute_layering_arguments(irqroute_layer IRQROUTE_LAYERING_ARGUMENTS)
add_test(NAME layering
    COMMAND bash ${CMAKE_SOURCE_DIR}/tests/layering/check.sh --top ${CMAKE_SOURCE_DIR}
            ${IRQROUTE_LAYERING_ARGUMENTS})
irqroute_layer_include_dirs(hl IRQROUTE_HL_INCLUDES)
irqroute_layer_include_dirs(io IRQROUTE_IO_INCLUDES)
string(REPLACE ";" ":" IRQROUTE_HL_INCLUDES "${IRQROUTE_HL_INCLUDES}")
string(REPLACE ";" ":" IRQROUTE_IO_INCLUDES "${IRQROUTE_IO_INCLUDES}")
add_test(NAME layering_planted
    COMMAND bash ${CMAKE_SOURCE_DIR}/tests/layering/planted.sh --cc ${CMAKE_C_COMPILER}
            --hl-includes ${IRQROUTE_HL_INCLUDES} --io-includes ${IRQROUTE_IO_INCLUDES}
            -- ${IRQROUTE_LAYERING_ARGUMENTS})
set_tests_properties(layering layering_planted PROPERTIES LABELS "static")
