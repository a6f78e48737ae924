#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of fuzz_vic (tests/fuzz/vic_corpus/).

Each seed is a scenario encoded in the byte format fuzz_vic.c decodes: a
shape byte (CPUs - 1 in bits 0-2, bit 6 for the x86 flavour), then per
operation its opcode (OpVic) and arguments, so that the fuzzer starts from
deep states (ASTs per mode, SIRR, IPIs, routes, machine checks in PAL mode,
offline CPUs, direct and pending-word sources sharing a level). Re-run after
changing the decoder:
    python3 tests/fuzz/vic_seeds.py
"""
import seed_corpus

# Operations (fuzz_vic.c OpVic)
V_RAISE, V_RAISE_ON, V_CLEAR, V_CLAIM, V_IPI, V_ROUTE, V_ONLINE, V_LEVEL, V_ENABLE, V_BARRIER, V_PAL, V_MODE, \
    V_ASTEN, V_OTHER = 0, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
# V_OTHER's first argument: 0 ASTSR, 1 end of interrupt, 2 SIRR
OTHER_ASTSR, OTHER_EOI, OTHER_SIRR = 0, 1, 2
# Claim's "how" byte: bit 0 end the interrupt after it, bit 1 take instead
CLAIM, CLAIM_END, TAKE = 0, 1, 2
ALPHA_IPI = 16
ALPHA_CLOCK = 17
ALPHA_MACHINE_CHECK = 21


def alpha_device(ipl, n):
    return 22 + (ipl - 20) * 16 + n


class Seed:
    def __init__(self, cpus, x86=False):
        self.data = bytearray([((cpus - 1) & 7) | (0x40 if x86 else 0)])

    def op(self, *values):
        self.data.extend(v & 0xFF for v in values)


def seeds():
    out = {}

    # Alpha: devices, ASTs per mode, SIRR, IPIs, routes, machine checks, offline CPUs.
    s = Seed(2)
    s.op(V_RAISE, alpha_device(21, 3), 0)
    s.op(V_CLAIM, 0, CLAIM_END)
    s.op(V_ASTEN, 0, 0, 0, 0x0F)
    s.op(V_OTHER, OTHER_ASTSR, 0, 0, 0, 0x06)      # ASTSR = modes 1, 2
    s.op(V_MODE, 0, 3, 0, 0)                       # user mode: ASTs for 1 and 2 eligible
    s.op(V_CLAIM, 0, CLAIM_END)
    s.op(V_CLAIM, 0, CLAIM_END)
    s.op(V_OTHER, OTHER_SIRR, 1, 5, 0, 0)          # SIRR level 5 on CPU 1
    s.op(V_CLAIM, 1, CLAIM)
    s.op(V_OTHER, OTHER_EOI, 1, 0, 0, 0)
    s.op(V_IPI, 2, 0, 0, 2)                        # all CPUs, message 2
    s.op(V_IPI, 0, 1, 0, 4)
    s.op(V_CLAIM, 0, CLAIM_END)
    s.op(V_CLAIM, 1, CLAIM_END)
    s.op(V_ROUTE, alpha_device(21, 3), 3, 0, 0x03)  # broadcast over CPUs 0-1
    s.op(V_RAISE, alpha_device(21, 3), 0)
    s.op(V_LEVEL, 0, 25, 0, 0)
    s.op(V_RAISE_ON, alpha_device(21, 3), 0)
    s.op(V_RAISE_ON, ALPHA_MACHINE_CHECK, 0)
    s.op(V_PAL, 0, 1, 0, 0)
    s.op(V_CLAIM, 0, CLAIM)
    s.op(V_CLAIM, 0, CLAIM)
    s.op(V_CLEAR, alpha_device(21, 3), 1)
    s.op(V_ONLINE, 1, 0)
    s.op(V_ROUTE, alpha_device(21, 3), 1, 0, 0x03)  # round robin
    s.op(V_RAISE, alpha_device(21, 3), 0)
    s.op(V_IPI, 0, 1, 0, 3)
    out["alpha"] = s

    # x86: vectors as sources, TPR classes.
    s = Seed(3, x86=True)
    s.op(V_RAISE, 0x65, 0)
    s.op(V_RAISE_ON, 0x91, 2)
    s.op(V_LEVEL, 2, 9, 0, 0)
    s.op(V_CLAIM, 2, CLAIM_END)
    s.op(V_LEVEL, 2, 0, 0, 0)
    s.op(V_CLAIM, 2, CLAIM_END)
    s.op(V_ROUTE, 0x65, 2, 0, 0x07)                # lowest priority
    s.op(V_RAISE, 0x65, 0)
    s.op(V_IPI, 3, 0, 0, 7)
    s.op(V_CLAIM, 1, CLAIM_END)
    s.op(V_ENABLE, 1, 0, 0, 0)
    s.op(V_RAISE_ON, 0x40, 1)
    s.op(V_CLAIM, 1, CLAIM_END)
    out["x86"] = s

    # Direct and pending-word sources at one level (21: slot 0 direct, 3
    # and 9 in the word), taken and claimed in turn, cleared in between.
    s = Seed(1)
    for n in (0, 3, 9):
        s.op(V_RAISE_ON, alpha_device(21, n), 0)
    s.op(V_CLAIM, 0, TAKE)
    s.op(V_CLEAR, alpha_device(21, 3), 0)
    s.op(V_CLAIM, 0, CLAIM)
    s.op(V_RAISE_ON, alpha_device(21, 9), 0)
    s.op(V_CLAIM, 0, TAKE)
    s.op(V_OTHER, OTHER_EOI, 0, 0, 0, 0)
    s.op(V_RAISE_ON, ALPHA_CLOCK, 0)
    s.op(V_RAISE_ON, alpha_device(22, 4), 0)
    s.op(V_CLAIM, 0, CLAIM_END)
    s.op(V_CLAIM, 0, TAKE)
    out["direct-and-word"] = s

    # IPIs that merge into a pending IPI, taken while masked and unmasked.
    s = Seed(4)
    s.op(V_LEVEL, 1, 22, 0, 0)
    for message in (1, 5, 9):
        s.op(V_IPI, 0, 1, 0, message)
    s.op(V_RAISE_ON, ALPHA_IPI, 1)
    s.op(V_CLAIM, 1, TAKE)
    s.op(V_LEVEL, 1, 0, 0, 0)
    s.op(V_CLAIM, 1, TAKE)
    s.op(V_IPI, 1, 0, 0x0E, 2)                      # a set: CPUs 1-3
    s.op(V_ONLINE, 3, 0)
    s.op(V_IPI, 2, 0, 0, 3)                         # all online
    s.op(V_CLAIM, 2, CLAIM_END)
    out["ipis"] = s
    return out


def main():
    seed_corpus.write("vic_corpus", seeds())


if __name__ == "__main__":
    main()
