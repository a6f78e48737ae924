#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The libraries export exactly what the public headers declare, as listed in
# cmake/irqroute.exports: no internal symbol (Ki*, Iop*, Vicp*...) leaks, no
# public one is missing. Checked on the shared libraries' dynamic symbols and
# on the static archives' global symbols (each archive is one prelinked
# object with its hidden symbols made local: cmake/IrqroutePackage.cmake).
#   exported_symbols.sh <exports file> <build dir>
set -euo pipefail
exports=$1
build=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0

# The exports of the given layers (sections "# <layer>" of the list).
expected() {
    awk -v layers=" $* " '/^# [a-z]+$/ { keep = index(layers, " " $2 " ") > 0; next }
                          /^#/ { next } keep && NF { print $1 }' "$exports" | sort -u
}
compare() { # compare <what> <expected file> <actual file>
    local missing extra
    missing=$(comm -23 "$2" "$3")
    extra=$(comm -13 "$2" "$3")
    if [ -n "$missing" ]; then echo "FAIL ($1): declared public but not exported:"; echo "$missing" | sed 's/^/    /'; status=1; fi
    if [ -n "$extra" ]; then echo "FAIL ($1): exported but not in $exports:"; echo "$extra" | sed 's/^/    /'; status=1; fi
    [ -n "$missing$extra" ] || echo "ok ($1): $(wc -l < "$3") symbols"
}
check_library() { # check_library <output name> <layers>...
    local name=$1
    shift
    expected "$@" > "$work/expected"
    nm -D --defined-only "$build/lib$name.so" | awk 'NF == 3 { print $3 }' | sort -u > "$work/shared"
    compare "lib$name.so" "$work/expected" "$work/shared"
    nm -g --defined-only "$build/lib$name.a" | awk 'NF == 3 { print $3 }' | sort -u > "$work/static"
    compare "lib$name.a" "$work/expected" "$work/static"
}

check_library irqroute base hl ke route vic io balance
check_library irqroute-vic base route vic
[ $status -eq 0 ] && echo "PASS: the libraries export the public API and nothing else"
exit $status
