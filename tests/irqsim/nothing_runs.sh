#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A bad scenario file: irqsim exits 2 with "file:line: ..." on stderr and
# runs nothing (no scenario header, no strategy line, no output files).
#   nothing_runs.sh <irqsim> <bad file> <expected line prefix>
set -euo pipefail
irqsim=$1 bad=$2 expected=$3
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0
"$irqsim" --scenario "$bad" --check --out "$out/results" >"$out/stdout" 2>"$out/stderr" || status=$?
fail() { echo "FAIL: $*"; cat "$out/stdout" "$out/stderr"; exit 1; }
[ "$status" -eq 2 ] || fail "exit status $status, expected 2"
grep -qF "$expected" "$out/stderr" || fail "stderr does not say '$expected'"
[ ! -s "$out/stdout" ] || fail "something ran"
[ ! -e "$out/results" ] || fail "output written"
echo "ok: $(cat "$out/stderr")"
