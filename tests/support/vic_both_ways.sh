#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Vic's tests with its fast paths compiled out: configures a second
# build with -DIRQROUTE_VIC_FAST_PATHS=OFF (every claim, take, raise and end
# of interrupt by the general path: src/vic/vicp.h, FAST PATHS), checks that
# the fast paths are really gone from the library, builds the Vic's unit
# tests and runs them. They must pass as they do with the fast paths.
#
#   vic_both_ways.sh CC SOURCE_DIR BUILD_DIR [GENERATOR]
set -euo pipefail
cc=$1
top=$2
build=$3
generator=${4:-Ninja}

cmake -S "$top" -B "$build" -G "$generator" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DIRQROUTE_VIC_FAST_PATHS=OFF >/dev/null
mapfile -t tests < <(cd "$top/tests/unit" && ls test_vic*.c test_conc_vic.c | sed 's/\.c$//')
cmake --build "$build" --target irqroute_core "${tests[@]}" >/dev/null

# The claim's fast path (vic_pending.c) is the one function only it has.
if nm "$build/libirqroute_core.a" | grep -q 'VicpClaimTopLevel'; then
    echo "FAIL: IRQROUTE_VIC_FAST_PATHS=OFF left the fast claim path in the library"
    exit 1
fi
pattern="^($(IFS='|'; echo "${tests[*]}"))\$"
ctest --test-dir "$build" -R "$pattern" --output-on-failure --timeout 600
echo "PASS: the Vic's tests (${#tests[@]}) pass with the fast paths compiled out"
