#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# IRQROUTE_SYMBOL_PREFIX: a kernel with Ke.../Io... functions of its own links
# irqroute (docs/porting.md, "Linking into a kernel with its own Ke*/Io*").
#  1. configures a library-only build with -DIRQROUTE_SYMBOL_PREFIX=irq_ in a
#     build directory of its own and builds the static libraries;
#  2. nm: the prefixed libirqroute.a defines every name of
#     cmake/irqroute.exports as irq_<name> and no unprefixed Ke/Io/Hl/Vic/Ir
#     symbol; it needs nothing but the platform hooks (Plat*); the sim's
#     archive defines no Ke/Io/Hl/Vic/Ir symbol either;
#  3. links tests/package/prefix (nt_kernel.c: an NT-like kernel's own
#     KeRaiseIrql, KeAcquireSpinLock, IoConnectInterrupt, IoDisconnectInterrupt
#     and KeSynchronizeExecution; main.c: irqroute's headers, the sim, one
#     interrupt routed) against the prefixed libirqroute.a and
#     libirqroute-sim.a, checks both sets of names are in the program, runs it;
#  4. given the unprefixed build's archives, links the same program against
#     them and requires the link to fail on a duplicate KeRaiseIrql: without
#     the prefix the two kernels cannot coexist, which is the point of it.
#
#   symbol_prefix.sh CC SOURCE_DIR BUILD_DIR [GENERATOR [CORE_A SIM_A GENERATED_INCLUDE]]
set -euo pipefail
cc=$1
top=$2
build=$3
generator=${4:-Ninja}
unprefixed_core=${5:-}
unprefixed_sim=${6:-}
unprefixed_include=${7:-}
prefix=irq_
program_dir=$top/tests/package/prefix

fail() { echo "FAIL: $*"; exit 1; }

# ---- 1. the prefixed library --------------------------------------------------------
cmake -S "$top" -B "$build" -G "$generator" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DIRQROUTE_SYMBOL_PREFIX=$prefix -DIRQROUTE_BUILD_TESTS=OFF -DIRQROUTE_BUILD_KERNEL=OFF \
    -DIRQROUTE_BUILD_BENCH=OFF -DIRQROUTE_BUILD_TOOLS=OFF >/dev/null
cmake --build "$build" --target irqroute_core_static irqroute_sim_static >/dev/null
core=$build/libirqroute.a
sim=$build/libirqroute-sim.a
work=$build/symbol-prefix
rm -rf "$work"
mkdir -p "$work"

# ---- 2. what the archives define ------------------------------------------------------
grep -E '^[A-Za-z]' "$top/cmake/irqroute.exports" | sed "s/^/$prefix/" | sort -u > "$work/expected"
nm -g --defined-only "$core" | awk 'NF == 3 { print $3 }' | sort -u > "$work/defined"
missing=$(comm -23 "$work/expected" "$work/defined")
[ -z "$missing" ] || fail "the prefixed libirqroute.a lacks: $(echo $missing)"
unprefixed=$(grep -E '^(Ke|Io|Hl|Vic|Ir)[A-Z]' "$work/defined" || true)
[ -z "$unprefixed" ] || fail "the prefixed libirqroute.a still exports: $(echo $unprefixed)"
extra=$(comm -13 "$work/expected" "$work/defined")
[ -z "$extra" ] || fail "the prefixed libirqroute.a exports names that are not in the list: $(echo $extra)"
needed=$(nm -u "$core" | awk '{ print $2 }' | sort -u | grep -v '^Plat' || true)
[ -z "$needed" ] || fail "the prefixed libirqroute.a needs more than the platform hooks: $(echo $needed)"
sim_unprefixed=$(nm -g "$sim" | awk '{ print $NF }' | grep -E '^(Ke|Io|Hl|Vic|Ir)[A-Z]' | sort -u || true)
[ -z "$sim_unprefixed" ] || fail "libirqroute-sim.a defines or calls unprefixed names: $(echo $sim_unprefixed)"
echo "ok: libirqroute.a exports the $(wc -l < "$work/expected") public names as $prefix<name> and nothing unprefixed"

# ---- 3. an NT-like kernel and prefixed irqroute in one program ---------------------------
# The installed layout of the sim's headers (<irqroute/sim/...>).
mkdir -p "$work/include/irqroute/sim"
ln -sf "$top/platform/sim/sim.h" "$top/platform/sim/simboot.h" "$work/include/irqroute/sim/"
flags=(-std=c11 -O1 -g -Wall -Wextra -Werror -pthread)
"$cc" "${flags[@]}" -c "$program_dir/nt_kernel.c" -o "$work/nt_kernel.o"
"$cc" "${flags[@]}" -I"$top/include" -I"$build/irqroute-generated/include" -I"$work/include" \
    -c "$program_dir/main.c" -o "$work/main.o"
"$cc" -pthread "$work/main.o" "$work/nt_kernel.o" "$sim" "$core" -o "$work/nt_coexist"
nm "$work/nt_coexist" > "$work/nt_coexist.nm"
for name in KeRaiseIrql KeAcquireSpinLock IoConnectInterrupt IoDisconnectInterrupt KeSynchronizeExecution; do
    grep -q " T $name\$" "$work/nt_coexist.nm" || fail "the program lacks the NT-like kernel's $name"
    grep -q " T $prefix$name\$" "$work/nt_coexist.nm" || fail "the program lacks irqroute's $prefix$name"
done
echo "ok: the program holds both kernels' KeRaiseIrql, KeAcquireSpinLock, IoConnectInterrupt,"
echo "    IoDisconnectInterrupt and KeSynchronizeExecution"
"$work/nt_coexist"

# ---- 4. the control: without the prefix the link fails -----------------------------------
if [ -n "$unprefixed_core" ] && [ -f "$unprefixed_core" ] && [ -f "$unprefixed_sim" ]; then
    "$cc" "${flags[@]}" -I"$top/include" -I"$unprefixed_include" -I"$work/include" \
        -c "$program_dir/main.c" -o "$work/main-unprefixed.o" 2> "$work/unprefixed.log" &&
        fail "main.c compiled against the unprefixed headers: its #error check does not work"
    grep -q 'does not rename KeRaiseIrql' "$work/unprefixed.log" || { cat "$work/unprefixed.log"; fail "main.c failed for another reason"; }
    # Even past that check (as a program that leaves it out would be), the link fails.
    "$cc" "${flags[@]}" -DKeRaiseIrql=KeRaiseIrql -I"$top/include" -I"$unprefixed_include" -I"$work/include" \
        -c "$program_dir/main.c" -o "$work/main-unprefixed.o"
    if "$cc" -pthread "$work/main-unprefixed.o" "$work/nt_kernel.o" "$unprefixed_sim" "$unprefixed_core" \
            -o "$work/nt_clash" 2> "$work/clash.log"; then
        fail "the NT-like kernel linked with the UNprefixed library too: the test proves nothing"
    fi
    grep -q 'multiple definition of .KeRaiseIrql' "$work/clash.log" || { cat "$work/clash.log"; fail "the unprefixed link failed for another reason"; }
    echo "ok: control: the same program against the unprefixed library fails to link (multiple definition of KeRaiseIrql)"
else
    echo "note: no unprefixed static libraries given (a sanitizer build): the control link is skipped"
fi
echo "PASS: with IRQROUTE_SYMBOL_PREFIX=$prefix an NT-like kernel and irqroute link into one program"
