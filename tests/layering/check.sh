#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Layering of the core (cmake/IrqrouteLayers.cmake says which layer may use
# which). The build already refuses an include a layer's path does not
# offer; this check covers what an include path cannot:
#   1. sources: no quoted include with a path ("../ke/ki.h" would reach any
#      directory), no hosted libc header in the core, no layer header in the
#      sim's register models (they sit below Hl, as the hardware does);
#   2. objects: no layer references a symbol that a layer it may not use
#      defines (an upward call through a hand-written prototype compiles).
#      The platform hooks (Plat*, include/irqroute/platform.h) are the one
#      sanctioned way down-to-up: whoever defines them, any layer may call.
# The kernel's layers (kernel/CMakeLists.txt) are checked the same way.
# Usage: check.sh [--top <dir>] [--layer <name> <uses, comma-separated or
#                 "none"> <objects, colon-separated>]...
# (without --top, only the objects are checked)
set -euo pipefail
top=
declare -a names uses objects
while [ $# -gt 0 ]; do
    case $1 in
    --top) top=$2; shift 2 ;;
    --layer) names+=("$2"); uses+=("$3"); objects+=("$4"); shift 4 ;;
    *) echo "unknown argument $1"; exit 2 ;;
    esac
done
status=0

forbid() { # forbid <dirs> <regex> <reason>
    local hits
    hits=$(cd "$top" && grep -rnE --include='*.c' --include='*.h' --include='*.S' "$2" $1 2>/dev/null || true)
    if [ -n "$hits" ]; then echo "FAIL ($3):"; echo "$hits"; status=1; fi
}

if [ -n "$top" ]; then
    forbid "src kernel platform tests bench tools include" '#include *"[^"]*/' \
        "a quoted include with a path gets past the include path"
    forbid "src" '#include *<(stdio|stdlib|string|pthread|unistd|assert|time|errno|signal|setjmp)\.h>' \
        "hosted header in the core"
    forbid "platform/sim --exclude=simboot.c --exclude=simboot.h" '#include *[<"](irqroute/)?(hl|ke|io|vic|router)\.h' \
        "the sim's register models include a layer"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
defined_by() { # defined_by <objects, colon-separated>: sorted global symbols
    local list
    IFS=: read -r -a list <<< "$1"
    nm --defined-only -g "${list[@]}" | awk 'NF == 3 {print $3}' | sort -u
}
undefined_in() {
    local list
    IFS=: read -r -a list <<< "$1"
    nm -u "${list[@]}" | awk 'NF == 2 && $2 !~ /^Plat/ {print $2}' | sort -u
}
for index in "${!names[@]}"; do
    defined_by "${objects[$index]}" > "$work/defined.${names[$index]}"
done
for index in "${!names[@]}"; do
    layer=${names[$index]}
    undefined_in "${objects[$index]}" > "$work/undefined"
    for other_index in "${!names[@]}"; do
        other=${names[$other_index]}
        [ "$other" = "$layer" ] && continue
        case ",${uses[$index]}," in *",$other,"*) continue ;; esac
        reached=$(comm -12 "$work/undefined" "$work/defined.$other")
        if [ -n "$reached" ]; then
            echo "FAIL ($layer may not use $other, yet references):"
            echo "$reached" | sed 's/^/    /'
            status=1
        fi
    done
done

if [ $status -eq 0 ]; then
    echo "PASS: layering holds (${#names[@]} layers: includes by path, symbols by object)"
fi
exit $status
