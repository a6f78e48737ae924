#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Boots the reference kernel under QEMU and checks its in-kernel test suite.
#
#   run_ktest.sh --kernel build/kernel/kernel.elf [--qemu qemu-system-x86_64]
#                [--smp 4] [--expect-cpus 4] [--case NAME]... [--timeout 120]
#                [--machine pc] [--cpu MODEL] [--memory 128M] [--append TEXT]
#                [-- extra qemu arguments]
#
# The kernel prints one line per case on COM1 ("KTEST <name> PASS|FAIL|SKIP
# <detail>"; SKIP: the machine cannot run it, which fails only a --case), one line per CPU it started ("cpu N: APIC id M online"), a
# "KTEST-SUMMARY PASS|FAIL" line, and leaves through isa-debug-exit:
# QEMU's status is (value << 1) | 1, so 33 = all passed, 35 = failures,
# 37 = panic or exception. This script passes when: QEMU exited with 33
# within the time limit, no KTEST line says FAIL, every --case named passed,
# and the number of CPUs started (distinct APIC ids) is --expect-cpus.
# --cpu picks QEMU's CPU model (its default, qemu64, offers no x2APIC;
# "max" does); --append passes a kernel command line. The time limit
# covers QEMU creating its vCPUs too (about 15 s for 288 and 100 s for 1024
# on a 2-core host), so give big machines a big --timeout.
set -uo pipefail

qemu=qemu-system-x86_64
kernel=
smp=4
expect_cpus=
timeout_s=120
machine=pc
cpu=
memory=128M
append=
cases=()
extra=()

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --qemu) qemu=$2; shift 2 ;;
        --kernel) kernel=$2; shift 2 ;;
        --smp) smp=$2; shift 2 ;;
        --expect-cpus) expect_cpus=$2; shift 2 ;;
        --case) cases+=("$2"); shift 2 ;;
        --timeout) timeout_s=$2; shift 2 ;;
        --machine) machine=$2; shift 2 ;;
        --cpu) cpu=$2; shift 2 ;;
        --memory) memory=$2; shift 2 ;;
        --append) append=$2; shift 2 ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) usage ;;
        *) echo "run_ktest: unknown argument '$1'"; usage ;;
    esac
done

[ -n "$kernel" ] || usage
if ! command -v "$qemu" >/dev/null 2>&1; then
    echo "FAIL: $qemu not found (install qemu-system-x86: make setup)"
    exit 1
fi
if [ ! -f "$kernel" ]; then
    echo "FAIL: kernel image $kernel not found (build the irqroute_kernel target)"
    exit 1
fi
# -smp 6,sockets=2,cores=3 -> 6 CPUs
[ -n "$expect_cpus" ] || expect_cpus=${smp%%,*}

log=$(mktemp)
trap 'rm -f "$log"' EXIT

options=(-machine "$machine" -smp "$smp" -m "$memory")
[ -z "$cpu" ] || options+=(-cpu "$cpu")
[ -z "$append" ] || options+=(-append "$append")
echo "run_ktest: $qemu ${options[*]} -kernel $kernel ${extra[*]} (timeout ${timeout_s}s)"
started_at=$(date +%s)
timeout --kill-after=5 "$timeout_s" "$qemu" "${options[@]}" -kernel "$kernel" \
    -display none -serial stdio -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
    "${extra[@]}" </dev/null 2>&1 | tr -d '\r' > "$log"
status=${PIPESTATUS[0]}
elapsed=$(( $(date +%s) - started_at ))
cat "$log"
echo "---- QEMU ran ${elapsed}s"

failures=()
case $status in
    33) ;;
    35) failures+=("the kernel reported failing cases (exit status 35)") ;;
    37) failures+=("the kernel panicked or took an exception (exit status 37)") ;;
    124|137) failures+=("QEMU did not finish within ${timeout_s}s") ;;
    0) failures+=("QEMU exited with status 0: the guest reset or triple-faulted (-no-reboot)") ;;
    *) failures+=("QEMU exited with status $status") ;;
esac

if grep -q '^KTEST [^ ]* FAIL' "$log"; then
    while read -r line; do failures+=("$line"); done < <(grep '^KTEST [^ ]* FAIL' "$log")
fi
for name in "${cases[@]}"; do
    grep -q "^KTEST $name PASS" "$log" || failures+=("case '$name' did not report PASS")
done
grep -q '^KTEST-SUMMARY PASS' "$log" || failures+=("no 'KTEST-SUMMARY PASS' line")

started=$(grep -E '^cpu [0-9]+: APIC id [0-9]+ online' "$log" | awk '{print $5}' | sort -u | wc -l)
if [ "$started" -ne "$expect_cpus" ]; then
    failures+=("$started CPUs with distinct APIC ids started, expected $expect_cpus")
fi

if [ ${#failures[@]} -gt 0 ]; then
    printf 'FAIL: %s\n' "${failures[@]}"
    exit 1
fi
echo "PASS: $(grep -c '^KTEST [^ ]* PASS' "$log") cases passed on $started CPUs (-smp $smp) in ${elapsed}s"
