#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The core is freestanding C11 with no libc: the kernel build compiles every
# layer of it with -ffreestanding -nostdlib -fno-builtin (the sources and
# include paths of cmake/IrqrouteLayers.cmake), and this check links those
# objects into one relocatable object and requires that the only undefined
# symbols left are the platform hooks declared in platform.h.
#   check.sh <include/irqroute/platform.h> <objects>...
# (each <objects> argument may hold several paths separated by colons)
set -euo pipefail
platform_header=$1
shift
IFS=: read -r -a objects <<< "$(IFS=:; echo "$*")"
[ ${#objects[@]} -gt 0 ] || { echo "no core objects given"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

ld -r -o "$work/core.o" "${objects[@]}"

# Hooks the core may call: every Plat* function declared in platform.h.
grep -oE '\bPlat[A-Za-z0-9]+\s*\(' "$platform_header" | tr -d '( ' | sort -u > "$work/allowed"
nm -u "$work/core.o" | awk '{print $2}' | sort -u > "$work/undefined"
unexpected=$(comm -23 "$work/undefined" "$work/allowed")

echo "core objects: ${#objects[@]}; undefined symbols: $(wc -l < "$work/undefined") (all must be platform hooks)"
if [ -n "$unexpected" ]; then
    echo "FAIL: the core references symbols outside the project:"
    echo "$unexpected"
    exit 1
fi
echo "PASS: freestanding core references only platform hooks"
