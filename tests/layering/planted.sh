#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The layering checks must catch a planted violation of each kind, or they
# prove nothing. Each plant lives in a scratch directory, never in the tree:
#   1. Hl includes Ke's public header       -> Hl's include path refuses it
#   2. Io includes Ke's private ki.h         -> Io's include path refuses it
#   3. a quoted include with a path          -> check.sh (sources) refuses it
#   4. Hl calls Ke through its own prototype -> check.sh (objects) refuses it
# Usage: planted.sh --cc <compiler> --hl-includes <dirs, colon-separated>
#                   --io-includes <dirs> -- <check.sh's --layer arguments>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cc= hl_includes= io_includes=
while [ $# -gt 0 ]; do
    case $1 in
    --cc) cc=$2; shift 2 ;;
    --hl-includes) hl_includes=$2; shift 2 ;;
    --io-includes) io_includes=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "unknown argument $1"; exit 2 ;;
    esac
done
layer_arguments=("$@")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0

include_flags() { local dir; IFS=: read -r -a dirs <<< "$1"; for dir in "${dirs[@]}"; do printf -- '-I%s\n' "$dir"; done; }

expect_refused_include() { # <name> <include dirs> <header> <source line>
    local log=$work/$1.log
    printf '%s\nint Planted%s;\n' "$4" "$1" > "$work/$1.c"
    mapfile -t flags < <(include_flags "$2")
    if "$cc" -std=c11 -ffreestanding -fsyntax-only "${flags[@]}" "$work/$1.c" > "$log" 2>&1; then
        echo "FAIL ($1): the plant compiled"; status=1
    elif grep -q "$3.*No such file\|$3.*not found\|No such file.*$3" "$log"; then
        echo "caught ($1): $(grep -m1 "$3" "$log")"
    else
        echo "FAIL ($1): refused, but not for the include:"; cat "$log"; status=1
    fi
}

expect_refused_include upward_include "$hl_includes" "irqroute/ke.h" '#include <irqroute/ke.h>'
expect_refused_include private_include "$io_includes" "ki.h" '#include "ki.h"'

# 3: a relative include, in a scratch tree checked by check.sh's source rules.
mkdir -p "$work/tree/src/hl"
printf '#include "../ke/ki.h"\n' > "$work/tree/src/hl/planted.c"
if bash "$here/check.sh" --top "$work/tree" > "$work/relative.log" 2>&1; then
    echo "FAIL (relative_include): check.sh passed the plant"; status=1
elif grep -q 'planted.c' "$work/relative.log"; then
    echo "caught (relative_include): $(grep -m1 FAIL "$work/relative.log")"
else
    echo "FAIL (relative_include): check.sh failed for another reason:"; cat "$work/relative.log"; status=1
fi

# 4: an upward call the compiler cannot see, added to Hl's objects.
cat > "$work/upward_call.c" <<'SOURCE'
unsigned char KeGetCurrentIrql(void); /* Ke is above Hl: must be refused */
unsigned char HlPlantedUpwardCall(void);
unsigned char HlPlantedUpwardCall(void) { return KeGetCurrentIrql(); }
SOURCE
"$cc" -std=c11 -ffreestanding -c "$work/upward_call.c" -o "$work/upward_call.o"
planted=()
for ((i = 0; i < ${#layer_arguments[@]}; i += 4)); do
    objects=${layer_arguments[i + 3]}
    [ "${layer_arguments[i + 1]}" = hl ] && objects="$objects:$work/upward_call.o"
    planted+=("${layer_arguments[i]}" "${layer_arguments[i + 1]}" "${layer_arguments[i + 2]}" "$objects")
done
mkdir -p "$work/empty"
if bash "$here/check.sh" --top "$work/empty" "${planted[@]}" > "$work/upward_call.log" 2>&1; then
    echo "FAIL (upward_call): check.sh passed the plant"; status=1
elif grep -q 'hl may not use ke' "$work/upward_call.log" && grep -q 'KeGetCurrentIrql' "$work/upward_call.log"; then
    echo "caught (upward_call): hl may not use ke, yet references KeGetCurrentIrql"
else
    echo "FAIL (upward_call): check.sh failed for another reason:"; cat "$work/upward_call.log"; status=1
fi

[ $status -eq 0 ] && echo "PASS: every planted violation was caught"
exit $status
