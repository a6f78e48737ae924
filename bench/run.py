#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs every bench program and prints one table.

For each case: ns/op (median and minimum of 31 timed runs of about 5 ms,
measured by the program; on a shared host the minimum is the steadier;
--rounds repeats that with the cases taking turns) and
instructions/op from valgrind's callgrind (run with N and 2N operations; the
difference over N removes set-up cost, and instruction counts repeat exactly
on a noisy machine). Each figure is also given as a ratio to the case's
baseline, measured in the same run. The table is written as JSON too.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys

CALLGRIND_N = 2000


def run(command):
    return subprocess.run(command, check=True, capture_output=True, text=True)


def list_cases(program):
    cases = []
    for line in run([program, "list"]).stdout.splitlines():
        name, baseline, cpus = line.split()
        cases.append({"name": name, "baseline": None if baseline == "-" else baseline, "cpus": int(cpus)})
    return cases


def collected_instructions(program, case, iterations):
    result = run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                  program, "run", case, str(iterations)])
    match = re.search(r"Collected\s*:\s*(\d+)", result.stderr)
    if not match:
        raise RuntimeError(f"no callgrind total for {case}: {result.stderr[-400:]}")
    return int(match.group(1))


def instructions_per_op(program, case):
    once = collected_instructions(program, case, CALLGRIND_N)
    twice = collected_instructions(program, case, 2 * CALLGRIND_N)
    return (twice - once) / CALLGRIND_N


def ratio(value, base):
    return value / base if base else float("nan")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bindir", help="directory holding the bench_* programs")
    parser.add_argument("--json", required=True, help="where to write the results")
    parser.add_argument("--no-callgrind", action="store_true")
    parser.add_argument("--rounds", type=int, default=1,
                        help="time every case this many times, the cases taking turns (a noisy host shifts all "
                             "of them alike); ns/op is then the median of the medians, best the minimum")
    parser.add_argument("--cases", default="", help="only the cases whose name matches this regular expression "
                                                    "(their baselines are always measured too)")
    args = parser.parse_args()

    programs = sorted(os.path.join(args.bindir, name) for name in os.listdir(args.bindir)
                      if name.startswith("bench_") and os.access(os.path.join(args.bindir, name), os.X_OK))
    rows = []
    for program in programs:
        cases = list_cases(program)
        wanted = {case["name"] for case in cases if re.search(args.cases, case["name"])}
        wanted |= {case["baseline"] for case in cases if case["name"] in wanted and case["baseline"]}
        for case in cases:
            if case["name"] in wanted:
                case["program"] = os.path.basename(program)
                case["medians"], case["minimums"] = [], []
                rows.append(case)
    for _ in range(args.rounds):
        for case in rows:
            program = os.path.join(args.bindir, case["program"])
            median, minimum = run([program, "time", case["name"]]).stdout.split()
            case["medians"].append(float(median))
            case["minimums"].append(float(minimum))
    for case in rows:
        case["ns_per_op"] = statistics.median(case.pop("medians"))
        case["best_ns_per_op"] = min(case.pop("minimums"))
        program = os.path.join(args.bindir, case["program"])
        # Contended cases run threads beside the timed one: callgrind would count their spinning too.
        counted = not args.no_callgrind and ".contended." not in case["name"]
        case["instructions_per_op"] = instructions_per_op(program, case["name"]) if counted else None
        print(f"  measured {case['name']}", file=sys.stderr)

    by_name = {row["name"]: row for row in rows}
    for row in rows:
        base = by_name.get(row["baseline"]) if row["baseline"] else None
        row["ns_ratio"] = ratio(row["ns_per_op"], base["ns_per_op"]) if base else None
        row["best_ns_ratio"] = ratio(row["best_ns_per_op"], base["best_ns_per_op"]) if base else None
        if base and row["instructions_per_op"] is not None:
            row["instructions_ratio"] = ratio(row["instructions_per_op"], base["instructions_per_op"])
            row["instructions_over_baseline"] = row["instructions_per_op"] - base["instructions_per_op"]
        else:
            row["instructions_ratio"] = None
            row["instructions_over_baseline"] = None

    header = (f"{'operation':34} {'CPUs':>5} {'ns/op':>8} {'best':>7} {'instr/op':>9} {'baseline':26} "
              f"{'ns ratio':>8} {'best':>6} {'instr ratio':>11} {'+instr':>7}")
    print(header)
    print("-" * len(header))
    for row in rows:
        def fmt(value, spec):
            return format(value, spec) if value is not None else "-"
        print(f"{row['name']:34} {row['cpus']:>5} {row['ns_per_op']:>8.2f} {row['best_ns_per_op']:>7.2f} "
              f"{fmt(row['instructions_per_op'], '>9.1f')} "
              f"{row['baseline'] or '(baseline)':26} {fmt(row['ns_ratio'], '>8.2f')} {fmt(row['best_ns_ratio'], '>6.2f')} "
              f"{fmt(row['instructions_ratio'], '>11.2f')} {fmt(row['instructions_over_baseline'], '>7.1f')}")

    # Sizes, not timings: Ke's and the Vic's memory per CPU, if the build has the programs.
    memory = {}
    for program_name, title in (("matrix_memory", "Ke memory per CPU (bytes)"),
                                ("vic_memory", "Vic memory per CPU (bytes)")):
        memory_program = os.path.join(args.bindir, program_name)
        if os.access(memory_program, os.X_OK):
            memory[program_name] = run([memory_program]).stdout
            print(f"\n{title}\n" + memory[program_name], end="")

    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as handle:
        json.dump({"results": rows, "memory": memory}, handle, indent=2)
    print(f"\nwritten: {args.json}")


if __name__ == "__main__":
    main()
