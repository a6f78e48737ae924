#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every public header from C++ (issue 17, item 3), with both compilers:
#  1. each header of include/irqroute on its own, and all_headers.cpp with
#     all of them and vic.hpp, compile with g++ and clang++ at -std=c++17 and
#     -std=c++20 (and once more -fno-exceptions -fno-rtti), -Wall -Wextra
#     -Werror -pedantic; all_headers.cpp's static assertions compare every
#     public type's layout with C's (c_layout.h, written by c_layout.c);
#  2. the library's functions are referenced by their C names (C linkage);
#  3. all_headers.cpp includes every public header, and public_types.h
#     lists every type the headers define.
# A compiler that is not installed makes the test skip (77), not pass.
# Usage: all_headers.sh <source dir> <generated include dir> <c_layout.h dir>
set -uo pipefail
top=$1 generated=$2 layout=$3
here=$top/tests/cxx
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }

compilers=()
for cxx in g++ clang++; do
    if command -v "$cxx" > /dev/null; then compilers+=("$cxx"); else echo "not installed: $cxx"; fi
done
[ ${#compilers[@]} -eq 2 ] || { echo "SKIP: needs both g++ and clang++"; exit 77; }

flags=(-Wall -Wextra -Werror -pedantic -I"$top/include" -I"$generated" -I"$layout" -I"$here")
headers=()
for header in "$top"/include/irqroute/*.h "$top"/include/irqroute/*.hpp; do headers+=("$(basename "$header")"); done

# 3. Nothing left out.
for header in "${headers[@]}"; do
    grep -q "#include <irqroute/$header>" "$here/all_headers.cpp" || fail "all_headers.cpp does not include $header"
done
defined=$(cat "$top"/include/irqroute/*.h |
    sed -n -e 's/^} \([A-Z][A-Z0-9_]*\);.*/\1/p' -e 's/^typedef enum [A-Za-z0-9_]* {.*} \([A-Z][A-Z0-9_]*\);.*/\1/p')
for type in $defined; do
    grep -q "IRQROUTE_PUBLIC_TYPE($type)" "$here/public_types.h" || fail "public_types.h does not list $type"
done
echo "checked: $(echo "$defined" | wc -w) public types listed, ${#headers[@]} headers included"

# 1. Compile.
for cxx in "${compilers[@]}"; do
    for mode in "-std=c++17" "-std=c++20" "-std=c++17 -fno-exceptions -fno-rtti"; do
        read -r -a mode_flags <<< "$mode"
        for header in "${headers[@]}"; do
            printf '#include <irqroute/%s>\n' "$header" > "$work/one.cpp"
            "$cxx" "${mode_flags[@]}" "${flags[@]}" -fsyntax-only "$work/one.cpp" > "$work/log" 2>&1 ||
                { fail "$cxx $mode: <irqroute/$header> alone"; cat "$work/log"; }
        done
        object=$work/all_headers-$cxx-${mode_flags[0]#-std=}.o
        if "$cxx" "${mode_flags[@]}" "${flags[@]}" -c "$here/all_headers.cpp" -o "$object" > "$work/log" 2>&1; then
            echo "ok: $cxx $mode"
            # 2. C linkage: a library name that reaches the object mangled was
            # declared outside extern "C" and would not link.
            mangled=$(nm -uC "$object" | grep -E ' (Ir|Ke|Io|Hl|Vic|Plat)[A-Za-z0-9_]*\(' || true)
            [ -z "$mangled" ] || fail "$cxx $mode: C++ linkage for: $mangled"
            nm -u "$object" | grep -qw IrStatusName || fail "$cxx $mode: IrStatusName not referenced by its C name"
        else
            fail "$cxx $mode: all_headers.cpp"; cat "$work/log"
        fi
    done
done
exit $status
