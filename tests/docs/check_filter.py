#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""scripts/doxygen-filter keeps the headers whole and documents what the
comment check (check_comments.py) counts as documented.

For every public header (*.h and *.hpp of the directory given):
  - the filtered text has the same number of lines (Doxygen's line numbers
    stay true) and the same code: only comments changed;
  - it has exactly one file comment (/** @file);
  - for a C header, every function that check_comments.py finds documented
    has a Doxygen comment (/** ... */) ending on the line before it, or is a
    later member of a run whose first function's comment opens a member
    group (/**@{*/) that closes (/**@}*/) after it.

Usage: check_filter.py <doxygen-filter> <include directory>
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_comments  # noqa: E402


def code_only(text):
    """The text without its comments, whitespace collapsed."""
    return " ".join(re.sub(r"/\*.*?\*/", " ", text, flags=re.S).split())


def documentation_problems(original, filtered):
    """Functions check_comments.py accepts that the filter left undocumented."""
    problems = []
    items = check_comments.items_of(filtered)
    group_open = False
    for index, item in enumerate(items):
        if item.kind == "comment" and item.text == "/**@{*/":
            group_open = True
        elif item.kind == "comment" and item.text == "/**@}*/":
            group_open = False
        name = check_comments.function_name(item.text) if item.kind == "code" else None
        if name is None:
            continue
        previous = items[index - 1] if index > 0 else None
        adjacent = previous is not None and previous.last == item.first - 1
        if adjacent and previous.kind == "comment":
            if not previous.text.startswith("/**") or previous.text.startswith("/**<"):
                problems.append("%s (line %d): its comment was not made a Doxygen comment" % (name, item.first))
        elif adjacent and previous.kind == "code" and group_open:
            pass  # a later member of a documented run
        else:
            problems.append("%s (line %d): no Doxygen comment" % (name, item.first))
    return problems


def check(filter_path, header):
    with open(header, encoding="utf-8") as source:
        original = source.read()
    filtered = subprocess.run([sys.executable, filter_path, header], capture_output=True, text=True,
                              check=True).stdout
    problems = []
    if original.count("\n") != filtered.count("\n"):
        problems.append("%d lines became %d" % (original.count("\n"), filtered.count("\n")))
    if code_only(original) != code_only(filtered):
        problems.append("the code changed, not only the comments")
    if filtered.count("/** @file") != 1:
        problems.append("%d file comments, not one" % filtered.count("/** @file"))
    if header.endswith(".h"):
        _, missing = check_comments.check_header(header)
        known_missing = {name for _, name in missing}
        problems += [p for p in documentation_problems(original, filtered) if p.split(" ", 1)[0] not in known_missing]
    return problems


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    filter_path, directory = argv
    failed = False
    headers = sorted(e for e in os.listdir(directory) if e.endswith((".h", ".hpp")))
    for entry in headers:
        for problem in check(filter_path, os.path.join(directory, entry)):
            print("%s: %s" % (entry, problem))
            failed = True
    if failed:
        return 1
    print("%d headers filtered: same lines, same code, every documented function a Doxygen comment" % len(headers))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
