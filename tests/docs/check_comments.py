#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every function a public C header declares has its comment.

THE RULE. In each header given (or each *.h of a directory given), every
function declaration or inline function definition at file scope must be
documented in one of two ways:

  1. a comment ends on the line right before the declaration's first line
     (no blank line between), and it says something: at least two words of
     letters (a banner of '=' or '-' alone does not count); or
  2. the declaration follows another function declaration that ends on the
     line right before it (a run of declarations with nothing between), and
     the comment that documents the run's first declaration (rule 1) names
     this function: "KeConnectInterrupt is the KeInterruptOwnerKe form",
     after KeConnectInterruptAs's comment, documents KeConnectInterrupt.

A function that is neither is reported with its file and line, and the check
fails. Rule 2 is what lets one comment cover a family of calls without
letting an undocumented call hide at the end of a documented one: the comment
must name it. scripts/doxygen-filter applies the same rule when it turns the
comments into Doxygen's (a run becomes a member group whose documentation is
shared), so what passes here is documented in the API reference.

What counts as a function: a statement at file scope (outside braces) whose
text before its first '(' ends in an identifier preceded by a type, that is
not a typedef (function pointer types are types, not functions) and has no
'=' before the '(' (a variable). Comments, preprocessor lines (with their
continuations) and bare macro lines (IRQROUTE_BEGIN_DECLS) are not
statements. The check also fails when a header yields no function at all, so
that a parser that has lost its way cannot pass by finding nothing.

Usage:
  check_comments.py <header or directory>...
  check_comments.py --expect <file> <header>...   the planted test: the
      reported functions (one name a line in <file>) must be exactly those
"""
import os
import re
import sys

BARE_MACRO_LINE = re.compile(r"^\s*[A-Z_][A-Z0-9_]*\s*$")
FUNCTION_HEAD = re.compile(r"^(?:[A-Za-z_][\w]*[\s\*]+)+?(?:\*\s*)*([A-Za-z_]\w*)\s*$")
WORD = re.compile(r"[A-Za-z]{2,}")


class Item:
    """One comment, or one statement at file scope, with its line span."""

    def __init__(self, kind, first, last, text):
        self.kind, self.first, self.last, self.text = kind, first, last, text


def items_of(text):
    """Splits a header into comments and file-scope statements (1-based lines)."""
    items = []
    line = 1
    i, n = 0, len(text)
    statement_start = None
    statement_line = 0
    statement_text = []
    depth = 0

    def finish(end_line):
        nonlocal statement_start
        if statement_start is not None:
            items.append(Item("code", statement_line, end_line, "".join(statement_text)))
        statement_start = None
        statement_text.clear()

    at_line_start = True
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            last = line + text.count("\n", i, end)
            if statement_start is None:
                items.append(Item("comment", line, last, text[i:end]))
            line = last
            i = end
            at_line_start = False
            continue
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            if statement_start is None:
                items.append(Item("comment", line, line, text[i:end]))
            i = end
            continue
        if at_line_start and statement_start is None:
            line_end = text.find("\n", i)
            line_end = n if line_end < 0 else line_end
            whole = text[i:line_end]
            if whole.lstrip().startswith("#"):
                # A preprocessor line, with its backslash continuations.
                first = line
                while whole.rstrip().endswith("\\") and line_end < n:
                    next_end = text.find("\n", line_end + 1)
                    next_end = n if next_end < 0 else next_end
                    whole = text[line_end + 1:next_end]
                    line_end = next_end
                    line += 1
                items.append(Item("preprocessor", first, line, ""))
                i = line_end
                continue
            if BARE_MACRO_LINE.match(whole):
                items.append(Item("macro", line, line, whole.strip()))
                i = line_end
                continue
        if c == "\n":
            line += 1
            at_line_start = True
            if statement_start is not None:
                statement_text.append(c)
            i += 1
            continue
        if c.isspace():
            if statement_start is not None:
                statement_text.append(c)
            i += 1
            continue
        at_line_start = False
        if statement_start is None:
            statement_start = i
            statement_line = line
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            statement_text.append(text[i:j + 1])
            i = j + 1
            continue
        statement_text.append(c)
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0 and "".join(statement_text).split("{", 1)[0].rstrip().endswith(")"):
                finish(line)  # the end of an inline function's body
        elif c == ";" and depth == 0:
            finish(line)
        i += 1
    finish(line)
    return items


def function_name(statement):
    """The function a file-scope statement declares or defines, or None."""
    text = " ".join(statement.split())
    if text.startswith(("typedef ", "typedef\t")):
        return None
    head = text.split("(", 1)[0] if "(" in text else None
    if head is None or "=" in head or "{" in head:
        return None
    match = FUNCTION_HEAD.match(head.strip())
    return match.group(1) if match else None


def says_something(comment):
    return len(WORD.findall(comment)) >= 2


def check_header(path):
    """(functions found, [(line, name), ...] of the undocumented ones)."""
    with open(path, encoding="utf-8") as header:
        items = items_of(header.read())
    found = 0
    missing = []
    run_comment = None  # the comment documenting the current run, if any
    previous = None
    for item in items:
        name = function_name(item.text) if item.kind == "code" else None
        if name is None:
            previous = item
            run_comment = None
            continue
        found += 1
        adjacent = previous is not None and previous.last == item.first - 1
        if adjacent and previous.kind == "comment" and says_something(previous.text):
            run_comment = previous.text
        elif (adjacent and previous.kind == "code" and function_name(previous.text) and run_comment is not None
              and re.search(r"\b%s\b" % re.escape(name), run_comment)):
            pass
        else:
            missing.append((item.first, name))
            run_comment = None
        previous = item
    return found, missing


def headers_of(arguments):
    for argument in arguments:
        if os.path.isdir(argument):
            for entry in sorted(os.listdir(argument)):
                if entry.endswith(".h"):
                    yield os.path.join(argument, entry)
        else:
            yield argument


def main(argv):
    expect = None
    if len(argv) >= 2 and argv[0] == "--expect":
        with open(argv[1], encoding="utf-8") as expected:
            expect = sorted(line.strip() for line in expected if line.strip() and not line.startswith("#"))
        argv = argv[2:]
    if not argv:
        sys.stderr.write(__doc__)
        return 2
    reported = []
    failed = False
    total = 0
    for path in headers_of(argv):
        found, missing = check_header(path)
        total += found
        if found == 0:
            print("%s: no function found: the check cannot read this header" % path)
            failed = True
        for line, name in missing:
            print("%s:%d: %s has no comment (tests/docs/check_comments.py, THE RULE)" % (path, line, name))
            reported.append(name)
    if expect is not None:
        if sorted(reported) != expect:
            print("planted: expected %s, reported %s" % (expect, sorted(reported)))
            return 1
        print("planted: each of the %d planted omissions reported, nothing else" % len(expect))
        return 0
    if failed or reported:
        print("%d of %d public functions lack a comment" % (len(reported), total))
        return 1
    print("%d public functions, each with its comment" % total)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
