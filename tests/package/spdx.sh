#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every source file carries the licence's SPDX line (LICENSE: MIT) in its
# first three lines: C, C++, assembly and linker scripts as a comment of
# their own, scripts and build files as '#' comments (after a shebang).
# Data (fuzz corpora, .bin, images, the scenario parser's bad inputs, whose line
# numbers the tests check), prose (.md) and the licence itself are not
# source. The files are git's when the tree is a checkout, else every file.
#   spdx.sh <source dir>
set -euo pipefail
cd "$1"
if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    mapfile -t files < <(git ls-files)
else
    mapfile -t files < <(find . -type f -not -path './.git/*' -not -path './build*' | sed 's|^\./||')
fi
missing=()
checked=0
for file in "${files[@]}"; do
    case $file in
    *.md | *.bin | *.json | *.png | *_corpus/* | tests/irqsim/bad/* | LICENSE | .gitignore | */planted.expected) continue ;;
    esac
    [ -f "$file" ] || continue
    checked=$((checked + 1))
    head -n 3 "$file" | grep -q 'SPDX-License-Identifier: MIT' || missing+=("$file")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "FAIL: ${#missing[@]} of $checked source files have no SPDX line:"
    printf '    %s\n' "${missing[@]}"
    exit 1
fi
echo "PASS: $checked source files carry SPDX-License-Identifier: MIT"
