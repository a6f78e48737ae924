#!/usr/bin/env bash
# The core (src/ and platform/x86/) must build as freestanding C11 with no
# libc: compile every file with -ffreestanding -nostdlib -fno-builtin, link
# the objects into one relocatable object, and require that the only
# undefined symbols left are the platform hooks declared in platform.h.
set -euo pipefail
cc=${1:-cc}
top=${2:-$(cd "$(dirname "$0")/../.." && pwd)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

flags=(-std=c11 -O2 -ffreestanding -nostdlib -fno-builtin -fno-stack-protector
       -fno-tree-loop-distribute-patterns -mno-red-zone -fno-pic
       -Wall -Wextra -Werror
       -I"$top/include" -I"$top/src/base" -I"$top/src/hl" -I"$top/src/ke" -I"$top/src/io" -I"$top/src/vic")

mapfile -t sources < <(cd "$top" && ls src/*/*.c platform/x86/*.c 2>/dev/null)
[ ${#sources[@]} -gt 0 ] || { echo "no core sources found"; exit 1; }

objects=()
for source in "${sources[@]}"; do
    object="$work/$(echo "$source" | tr / _).o"
    "$cc" "${flags[@]}" -c "$top/$source" -o "$object"
    objects+=("$object")
done
ld -r -o "$work/core.o" "${objects[@]}"

# Hooks the core may call: every Plat* function declared in platform.h.
grep -oE '\bPlat[A-Za-z0-9]+\s*\(' "$top/include/irqroute/platform.h" | tr -d '( ' | sort -u > "$work/allowed"
nm -u "$work/core.o" | awk '{print $2}' | sort -u > "$work/undefined"
# platform/x86/hw_access.c defines some hooks for real hardware; whatever it
# leaves undefined must still be a hook.
unexpected=$(comm -23 "$work/undefined" "$work/allowed")

echo "core sources: ${#sources[@]}; undefined symbols: $(wc -l < "$work/undefined") (all must be platform hooks)"
if [ -n "$unexpected" ]; then
    echo "FAIL: the core references symbols outside the project:"
    echo "$unexpected"
    exit 1
fi
echo "PASS: freestanding core references only platform hooks"
