#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpus of fuzz_io (tests/fuzz/io_corpus/).

Each seed is a scenario encoded in the byte format fuzz_io.c decodes (boot
shape byte, then opcode + arguments per operation), so the fuzzer starts
from deep states (movable interrupts moved under a policy, shared lines,
broadcasts, latched level lines, IRQL gating, two I/O APICs, offline CPUs)
instead of having to discover them. Re-run after changing the decoder:
    python3 tests/fuzz/io_seeds.py
(The Vic's seeds: vic_seeds.py.)
"""
import seed_corpus

OP_LINE, OP_MESSAGE, OP_FULLY, OP_DISCONNECT, OP_PULSE, OP_LEVEL, OP_MSI, OP_IRQL, OP_MOVE, OP_VECTORS, \
    OP_IPI, OP_SYNC, OP_QUERY = 0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13
# Ke objects on caller storage, system vectors, registry and late mode,
# overrides, device templates, stale handles, Ke shut down (KeShutdownSystem
# and calls made before Ke is up again). Opcodes wrap at OP_COUNT.
OP_KE, OP_SYSVEC, OP_REGISTRY, OP_OVERRIDE, OP_DEVICE, OP_STALE, OP_KE_DOWN = 14, 15, 16, 17, 18, 19, 20
# IoQueryInterruptAffinity and IoSetInterruptRateLimit (OpRouteExtras).
OP_EXTRAS = 21
OP_COUNT = 22
# The calls OpKeDown makes while Ke is down (CallWithKeDown's choice byte).
KD_LINE, KD_MESSAGE, KD_FULLY, KD_DEVICE, KD_KE, KD_VECTORS, KD_SYSVEC, KD_HANDLES, KD_SHUTDOWN = range(9)

BUS_GSI, BUS_ISA, BUS_PCI = 0, 1, 2
OPT_DEFAULT, OPT_EDGE, OPT_LEVEL = 0, 1, 2
IRQL_ANY = 0x80
T_DEFAULT, T_CPU, T_AFFINITY, T_BROADCAST, T_ROUTABLE = 0, 1, 2, 3, 4
# A message's requester in a remapping boot: none, the assigned one, another.
REQ_NONE, REQ_ASSIGNED, REQ_OTHER = 0, 1, 2


class Seed:
    def __init__(self, cpus, online=None, x2apic=False, two_ioapics=False, remap=False):
        # remap: a VT-d unit (x2APIC, APIC ids 0x01, 0xFF, 0x100, 0x03,
        # 0x11F, 0x05, 0x120, 0x07 for CPUs 0-7; requester 00:03.0 assigned).
        self.remap = remap
        shape = (cpus - 1) & 7
        if online is not None:
            shape |= 0x08
        if x2apic:
            shape |= 0x10
        if two_ioapics:
            shape |= 0x20
        if remap:
            shape |= 0x40
        self.data = bytearray([shape])
        if online is not None:
            self.data.append((online - 1) % cpus)
        self.live = 0

    def b(self, *values):
        self.data.extend(v & 0xFF for v in values)

    def pick(self, index):
        if self.live:
            self.b(index)

    def target(self, kind, cpu=0, mask=0x0F):
        self.b(kind, cpu, mask & 0x7F)

    def line(self, bus, number, trigger=OPT_DEFAULT, irql=IRQL_ANY, share=False, kind=T_CPU, cpu=0, mask=0x0F,
             claim=True):
        self.b(OP_LINE, bus, 1, number, trigger, OPT_DEFAULT, irql, 0, int(share))
        self.target(kind, cpu, mask)
        self.b(int(claim))
        self.live += 1

    def message(self, kind=T_CPU, cpu=0, mask=0x0F, irql=IRQL_ANY, claim=True, requester=0, update=True,
                refused=False):
        self.b(OP_MESSAGE, irql, 0)
        self.target(kind, cpu, mask)
        self.b(int(claim) | (0 if update else 0x0E))
        if self.remap:
            self.b(requester)  # REQ_NONE, REQ_ASSIGNED, REQ_OTHER
        if not refused:
            self.live += 1

    def fully(self, vector, mask=0x0F, share=True, level=False, claim=True, ioconnect=True):
        # vector byte: 0x30 + byte % 0xA0 without the high bit's extra reads
        # mode byte: KINTERRUPT_MODE LevelSensitive = 0, Latched = 1
        self.b(OP_FULLY, (vector - 0x30) & 0x7F, 0, 0, 0, 0 if level else 1, int(share), mask,
               (int(claim)) | (0x2 if ioconnect else 0))
        self.live += 1

    def disconnect(self, index):
        self.b(OP_DISCONNECT, 0)
        self.pick(index)
        self.live -= 1

    def pulse_live(self, index):
        self.b(OP_PULSE, 1)
        self.pick(index)

    def pulse_gsi(self, gsi):
        self.b(OP_PULSE, 0, gsi)

    def level(self, gsi):
        self.b(OP_LEVEL, gsi, 0)

    def msi_live(self, index):
        self.b(OP_MSI, 1)
        self.pick(index)

    def msi_raw(self, cpu, vector):
        self.b(OP_MSI, 0, cpu, vector)

    def irql(self, level, vector, index=0):
        self.b(OP_IRQL, level - 3, vector - 0x30)
        self.pick(index)

    def move(self, index, cpu):
        self.b(OP_MOVE, 0)
        self.pick(index)
        self.b(cpu)

    def policy(self, index, policy):
        self.b(OP_MOVE, 2)
        self.pick(index)
        self.b(0, policy)

    def vectors(self, choice, irql=IRQL_ANY, mask=0x0F, cpu=0, vector=0x60, extra=()):
        self.b(OP_VECTORS, choice, irql, mask, cpu, vector, *extra)

    def ipi(self, kind, cpu=0, mask=0x0F, message=4, generic=False):
        self.b(OP_IPI, kind, cpu, mask, message, int(generic))

    def sync(self, index):
        self.b(OP_SYNC, 0)
        self.pick(index)

    # ---- Ke objects on caller storage (OpKeObject) ----
    def ke_init(self, slot, vector, mask=0x0F, level=False, share=True, claim=True, defect=0, io_storage=None):
        where = 7 if io_storage is not None else 0
        self.b(OP_KE, 0, slot, (vector - 0x30) % 0xA0, 0, 0, 0 if level else 1, 1, int(share), mask, int(claim),
               defect, where)
        if io_storage is not None:
            self.pick(io_storage)

    def ke_connect(self, slot, how=0, extra=()):
        self.b(OP_KE, 2, slot, how, *extra)

    def ke_disconnect(self, slot, how=0, extra=()):
        self.b(OP_KE, 4, slot, how, *extra)

    def sysvec(self, pick, byte=0, remove=False):
        self.b(OP_SYSVEC, pick, byte, 0 if remove else 1)

    def ke_down(self, *calls):
        """KeShutdownSystem; refused (only the opcode is read) while anything
        is connected, else up to 4 calls (mask, vector, choice, arguments)
        with Ke down, then Ke comes back."""
        self.b(OP_KE_DOWN)
        if self.live:
            return
        assert 1 <= len(calls) <= 4
        self.b(len(calls) - 1)
        for call in calls:
            self.b(*call)

    def register(self, choice, cpu, apic, u32=None):
        self.b(OP_REGISTRY, choice, cpu, apic)
        if choice == 6:
            self.b(*(u32 or 0).to_bytes(4, "little"))

    def late_mode(self, mode, base):
        self.b(OP_REGISTRY, 7, mode, base)

    def override(self, irq, gsi, flags):
        self.b(OP_OVERRIDE, irq, gsi, flags & 0xFF, 1 if flags > 0xFF else 0)
        if flags > 0xFF:
            self.b(flags >> 8)

    def device(self, slot, lines=(), messages=0, bus=BUS_PCI, trigger=OPT_DEFAULT, share=False, routing=0, cpu=0,
               mask=0x0F, claim=True, irql=0, flags=0):
        kind = 1 if messages else 0
        count = messages or len(lines)
        # the decoder reads Count line numbers for messages too (unused)
        self.b(OP_DEVICE, 0, slot, kind, bus, count, *(lines or (0,) * count), trigger, 0, irql, int(share), routing, cpu, mask,
               int(claim) | flags)
        self.live += count

    def device_disconnect(self, slot, count):
        self.b(OP_DEVICE, 2, slot)
        self.live -= count

    def device_route(self, slot, routing, cpu=0, connected=True):
        self.b(OP_DEVICE, 3, slot, routing, cpu)
        if not connected:
            self.b(0)  # a connection with Count 0, not NULL

    def device_query(self, routing, has_mask=1):
        self.b(OP_DEVICE, 5, 0, routing, has_mask, 1, 1)

    def affinity(self, index, choice=0):
        self.b(OP_EXTRAS, choice)
        self.pick(index)
        self.b(0)

    def rate_limit(self, index, limit):
        self.b(OP_EXTRAS, 2)
        self.pick(index)
        self.b(limit)

    def stale(self, slot):
        self.b(OP_STALE, 0, slot, 1)

    def query(self, index=0):
        self.b(OP_QUERY, 1, 0x61, 0, 1, 3, 0x0F, 1, 0, 5)
        self.pick(index)


def seeds():
    out = {}

    s = Seed(4)
    s.line(BUS_ISA, 3, kind=T_CPU, cpu=2)
    s.pulse_live(0)
    s.line(BUS_PCI, 16, kind=T_AFFINITY, mask=0x0F)
    s.level(16)
    s.message(kind=T_ROUTABLE, cpu=1, mask=0x0E)
    s.msi_live(2)
    s.move(2, 3)
    s.msi_live(2)
    s.policy(2, 1)
    for _ in range(4):
        s.msi_live(2)
    s.policy(2, 2)
    s.msi_live(2)
    s.sync(0)
    s.query(1)
    for index in (2, 1, 0):
        s.disconnect(index)
    out["mixed-routable-msi"] = s

    s = Seed(4)
    s.line(BUS_ISA, 7, share=True, kind=T_CPU, cpu=1)
    s.line(BUS_ISA, 7, share=True, kind=T_CPU, cpu=3, claim=False)
    s.pulse_gsi(7)
    s.disconnect(0)
    s.pulse_gsi(7)
    s.line(BUS_ISA, 7, share=False)
    s.pulse_gsi(7)
    out["shared-edge-line"] = s

    s = Seed(4)
    s.line(BUS_PCI, 19, share=True, kind=T_ROUTABLE, cpu=2, mask=0x0F)
    s.line(BUS_PCI, 19, share=True, claim=False)
    s.level(19)
    s.policy(0, 1)
    s.level(19)
    s.level(19)
    s.move(1, 0)
    s.level(19)
    out["shared-level-routable"] = s

    # Moves in two phases. The routable line (IRQL 5: 0x50-0x5F; it gets
    # 0x51 today) finds every IRQL 5 vector but 0x55 taken on CPU 2, so its
    # move there takes 0x55 (through CPU 0 first: the intermediate step),
    # and none free on CPU 1 (VECTOR_EXHAUSTED); moves without an interrupt
    # in between leave old links retiring, an edge on the new link lets them
    # retire. Then spread (ROUND_ROBIN) and gathered (FIXED) again, a
    # message moved the same way, the affinity queried, a level line
    # rate-limited.
    s = Seed(4)
    s.fully(0x50, mask=0x04, share=False)
    s.line(BUS_GSI, 10, irql=5, kind=T_ROUTABLE, cpu=0, mask=0x0F)
    s.affinity(1)
    for vector in range(0x51, 0x60):
        if vector != 0x55:
            s.vectors(2, cpu=2, vector=vector)
    for vector in range(0x50, 0x60):
        s.vectors(2, cpu=1, vector=vector)
    for cpu in (2, 1, 3, 2, 0, 3, 1):
        s.move(1, cpu)
    s.pulse_live(1)
    s.move(1, 2)
    s.pulse_live(1)
    s.policy(1, 1)
    for _ in range(5):
        s.pulse_live(1)
    s.policy(1, 0)
    s.pulse_live(1)
    s.message(kind=T_ROUTABLE, cpu=0, mask=0x0F, irql=5)
    for cpu in (2, 1, 3):
        s.move(2, cpu)
        s.msi_live(2)
    s.policy(2, 2)
    s.msi_live(2)
    s.msi_live(2)
    s.line(BUS_GSI, 11, trigger=OPT_LEVEL, kind=T_ROUTABLE, cpu=1, mask=0x0F)
    s.rate_limit(3, 4)
    s.rate_limit(1, 4)
    s.level(11)
    for index in (3, 2, 1, 0):
        s.disconnect(index)
    out["moves-in-two-phases"] = s

    s = Seed(6)
    s.line(BUS_GSI, 20, trigger=OPT_EDGE, kind=T_BROADCAST, mask=0x3F)
    s.pulse_live(0)
    s.message(kind=T_BROADCAST, mask=0x05)
    s.msi_live(1)
    s.ipi(2, message=4)
    s.ipi(1, mask=0x06, message=5)
    s.ipi(0, cpu=0, generic=True)
    out["broadcast-and-ipis"] = s

    s = Seed(4)
    s.fully(0x65, mask=0x0F, share=True)
    s.fully(0x65, mask=0x06, share=True, claim=False)
    s.msi_raw(1, 0x65)
    s.irql(6, 0x65, 0)
    s.irql(5, 0x65, 0)
    s.fully(0x71, mask=0x01, share=False, level=True)
    s.msi_raw(0, 0x71)
    s.fully(0x71, mask=0x01, share=False)
    s.live -= 1  # refused: 0x71 on CPU 0 is held exclusively
    s.disconnect(0)
    s.msi_raw(2, 0x65)
    out["fully-specified-sharing"] = s

    s = Seed(4)
    s.vectors(0, irql=6, mask=0x0C)
    s.vectors(1, irql=IRQL_ANY, mask=0x03)
    s.vectors(2, cpu=1, vector=0x66)
    s.fully(0x66, mask=0x02, share=False)
    s.msi_raw(1, 0x66)
    s.disconnect(0)
    s.vectors(3, cpu=1, vector=0x66, extra=(0,))
    s.vectors(3, extra=(1, 0))
    s.vectors(2, cpu=9, vector=0x66)
    s.vectors(2, cpu=0, vector=0xE1)
    out["vector-matrix"] = s

    s = Seed(3, x2apic=True, two_ioapics=True)
    s.level(30)
    s.line(BUS_PCI, 30, kind=T_CPU, cpu=2)
    s.level(30)
    s.line(BUS_GSI, 33, trigger=OPT_EDGE, kind=T_ROUTABLE, cpu=1, mask=0x07)
    s.pulse_live(1)
    s.move(1, 2)
    s.pulse_live(1)
    s.query(0)
    out["x2apic-two-ioapics"] = s

    s = Seed(8, online=5)
    s.line(BUS_ISA, 4, kind=T_CPU, cpu=6)
    s.live -= 1  # refused: CPU 6 is offline
    s.line(BUS_ISA, 4, kind=T_AFFINITY, mask=0xF0)
    s.line(BUS_ISA, 4, kind=T_BROADCAST, mask=0x11)
    s.live -= 1  # refused: ISA IRQ 4 is held exclusively by the affinity connection
    s.message(kind=T_ROUTABLE, cpu=0xFF, mask=0x1F)
    s.msi_live(1)
    s.ipi(0, cpu=6)
    s.ipi(1, mask=0x21)
    s.ipi(3)
    out["offline-cpus"] = s

    s = Seed(2)
    s.line(BUS_ISA, 10, kind=T_CPU, cpu=1)
    s.level(10)
    s.irql(12, 0xC5, 0)
    s.line(BUS_ISA, 1, irql=9, kind=T_CPU, cpu=0)
    s.irql(9, 0x95, 1)
    s.sync(1)
    s.disconnect(0)
    s.b(OP_DISCONNECT, 5, 0)
    s.b(OP_DISCONNECT, 6)
    s.b(OP_DISCONNECT, 7)
    out["irql-and-bad-disconnects"] = s

    # Ke-level objects: connect on caller storage, share with Io's, refused
    # re-initialisation, cross-layer disconnects, stale handles, KeFreeVector
    # on vectors objects use.
    s = Seed(4)
    s.ke_init(0, 0x65, mask=0x0F)
    s.ke_connect(0)
    s.live += 1
    s.fully(0x65, mask=0x06, share=True, claim=False)
    s.msi_raw(1, 0x65)
    s.ke_init(0, 0x65, mask=0x03)           # ALREADY_CONNECTED
    s.ke_init(1, 0x66, mask=0x01, io_storage=1)  # an Io object's storage
    s.ke_connect(1, how=4, extra=(1,))      # Ke connect of an Io object
    s.ke_disconnect(1, how=5, extra=(1, 1))  # Ke disconnect of an Io object
    s.ke_disconnect(0, how=3, extra=(1,))   # as Io: ACCESS_DENIED
    s.ke_connect(0, how=3, extra=(1,))      # a bad owner
    s.vectors(3, cpu=1, vector=0x65)  # KeFreeVector: objects on it
    s.ke_init(2, 0x71, mask=0x02, level=True, share=False)
    s.ke_connect(2)
    s.live += 1
    s.ke_connect(2)                         # ALREADY_CONNECTED
    s.msi_raw(1, 0x71)
    s.ke_init(3, 0x71, mask=0x06)
    s.ke_connect(3)                         # SHARING_VIOLATION
    s.disconnect(0)                         # Io refuses a Ke object, then Ke's disconnect
    s.ke_disconnect(0, extra=(1,))          # stale: NOT_CONNECTED
    s.stale(0)
    s.ke_init(0, 0x45, mask=0x03, defect=7)  # BUFFER_TOO_SMALL
    s.ke_init(0, 0x45, mask=0x30)           # offline/absent CPUs
    s.ke_init(0, 0x45, mask=0x03, defect=6)  # misaligned
    s.ke_disconnect(0, how=6, extra=(1, 0))
    out["ke-objects"] = s

    s = Seed(4)
    s.vectors(2, cpu=1, vector=0x66)
    s.fully(0x66, mask=0x02, share=False)
    s.vectors(3, extra=(1, 0))              # the reserved vector an object now uses
    s.disconnect(0)
    out["free-connected-vector"] = s

    # System vectors: Ke's IPI vector refused, spurious and device vectors
    # invalid, free system vectors taken and given back, each fired.
    s = Seed(2)
    s.sysvec(0)
    s.sysvec(1)
    s.sysvec(2, byte=6)
    s.sysvec(4, byte=0x20)
    s.sysvec(5, byte=3)
    s.sysvec(6, byte=0xE0)
    s.sysvec(6, byte=0xE0, remove=True)
    s.sysvec(6, byte=0xD1)
    s.sysvec(6, byte=0xFD)
    s.ipi(0, cpu=1, message=4)
    out["system-vectors"] = s

    # The registry after boot, and a late local APIC mode.
    for x2apic in (False, True):
        s = Seed(4, x2apic=x2apic)
        s.register(0, 0, 0)                 # the same pair again
        s.register(1, 1, 0)                 # CPU 1 with CPU 0's id
        s.register(3, 9, 0x20)              # a new CPU
        s.register(2, 10, 0x20)             # its id again
        s.register(4, 11, 0x0F)             # id 0xFF: no xAPIC CPU has it
        s.register(6, 12, 0, u32=0x1234)
        s.register(3, 0xF1, 0x30)           # CPU index IR_MAX_CPUS
        s.late_mode(0, 0)
        s.late_mode(1, 0)
        s.late_mode(0, 1)
        s.late_mode(2, 0)
        s.query()
        out["registry-x2apic" if x2apic else "registry-xapic"] = s

    # Overrides: covered and uncovered GSIs, reserved flags, a line through one.
    s = Seed(2, two_ioapics=True)
    s.override(3, 20, 0x0F)
    s.line(BUS_ISA, 3, kind=T_CPU, cpu=1)
    s.level(20)
    s.override(4, 0xC5, 0x05)
    s.override(0xF5, 4, 0)
    s.override(6, 6, 0x02)
    s.override(7, 0xF3, 0x0A)
    s.override(8, 33, 0x105)
    s.line(BUS_ISA, 8, kind=T_CPU, cpu=0)
    out["overrides"] = s

    s = Seed(2)
    s.override(5, 0xC6, 0x0D)               # GSI 24 + 6 = 30: no I/O APIC has it
    out["override-uncovered"] = s

    # Device templates: lines round robin, re-routed live; messages spread.
    s = Seed(4)
    s.device(0, lines=(16, 17), routing=1, mask=0x0F, share=True)
    s.level(16)
    s.level(16)
    s.device_route(0, 0, cpu=2)
    s.level(17)
    s.device_route(0, 0, cpu=9)             # outside the set
    s.device_route(0, 3)                    # broadcast: not movable
    s.device_route(0, 2)
    s.device(1, messages=3, routing=5, mask=0x0F)
    s.msi_live(2)
    s.device(2, messages=2, routing=1, mask=0x06)
    s.device_route(2, 0, cpu=1)
    s.device_route(1, 1)                    # a spread device is not movable
    s.device_query(0, 0)
    s.device_query(5)
    s.device_query(7)
    s.device_disconnect(1, 3)
    s.device_route(1, 1, connected=False)
    s.b(OP_DEVICE, 2, 1, 1, 0)              # disconnect again: NOT_CONNECTED
    out["devices"] = s

    # A device whose second line is held exclusively: rolled back whole.
    s = Seed(4)
    s.line(BUS_ISA, 7, kind=T_CPU, cpu=1)
    s.device(0, lines=(18, 7), bus=BUS_GSI, trigger=OPT_EDGE, routing=4, mask=0x0C)
    s.live -= 2
    s.pulse_gsi(18)
    s.device(0, lines=(18, 19), bus=BUS_GSI, trigger=OPT_LEVEL, routing=3, mask=0x03)
    s.level(19)
    s.device(1, messages=2, routing=2, mask=0x0F, flags=0x82)  # movable without UpdateMessage
    s.live -= 2
    s.device(1, messages=0, routing=0)      # Count 0
    s.live -= 0
    s.device(2, lines=(3,), bus=BUS_ISA, routing=0, cpu=3)
    s.disconnect(0)                         # Io's own line: frees it (a stale handle)
    s.b(OP_STALE, 2, 0, 1)                  # Io's calls on the freed handle
    out["device-rollback"] = s

    # Ke shut down: refused while a line is connected; then, with nothing
    # connected (a vector taken directly and a system handler go with Ke),
    # every kind of call made before Ke is up again, and Ke comes back and
    # serves a new line.
    s = Seed(4, online=3)
    s.line(BUS_ISA, 4, kind=T_ROUTABLE, cpu=1, mask=0x07)
    s.ke_down()
    s.disconnect(0)
    s.vectors(0)
    s.sysvec(0)
    s.ke_down((0x0F, 0x31, KD_LINE, T_ROUTABLE, 1, 0x07, 4, 0),
              (0x0F, 0x31, KD_MESSAGE, T_CPU, 2, 0x0F, 1),
              (0x0F, 0x31, KD_FULLY, 1, 1),
              (0x0F, 0x31, KD_DEVICE, 4))
    s.ke_down((0x06, 0x42, KD_KE, 0),
              (0x06, 0x42, KD_VECTORS, 1, 2),
              (0x06, 0x42, KD_SYSVEC, 0xD1),
              (0x06, 0x42, KD_HANDLES, 1, 0, 2))
    s.ke_down((0x0F, 0x31, KD_SHUTDOWN, 0))
    s.line(BUS_ISA, 4, kind=T_ROUTABLE, cpu=2, mask=0x07)
    s.pulse_live(0)
    s.disconnect(0)
    out["ke-down"] = s

    # Remapping: lines reach the CPUs past 0xFE (CPU 2 is APIC id 0x100, CPU
    # 1 is 0xFF), by name, by a routable mask and by moves.
    s = Seed(6, remap=True)
    s.line(BUS_ISA, 3, kind=T_CPU, cpu=2)
    s.pulse_live(0)
    s.line(BUS_PCI, 16, kind=T_CPU, cpu=1)
    s.level(16)
    s.line(BUS_ISA, 4, kind=T_ROUTABLE, cpu=4, mask=0x3F)
    s.pulse_live(2)
    for cpu in (1, 2, 0, 4):
        s.move(2, cpu)
        s.pulse_live(2)
    s.policy(2, 1)
    for _ in range(4):
        s.pulse_live(2)
    s.query(2)
    for index in (2, 1, 0):
        s.disconnect(index)
    out["remap-lines-wide-cpus"] = s

    # Remapping: the assigned requester's messages reach CPU 4 (0x11F) and
    # move without an update routine; another requester's reach only the
    # 8-bit ids (CPU 3), and its message to CPU 2 is refused.
    s = Seed(6, remap=True)
    s.message(kind=T_CPU, cpu=4, requester=REQ_ASSIGNED)
    s.msi_live(0)
    s.message(kind=T_CPU, cpu=3, requester=REQ_OTHER)
    s.msi_live(1)
    s.message(kind=T_CPU, cpu=2, requester=REQ_OTHER, refused=True)
    s.message(kind=T_ROUTABLE, cpu=2, mask=0x3F, requester=REQ_ASSIGNED, update=False)
    s.msi_live(2)
    for cpu in (1, 4, 5):
        s.move(2, cpu)
        s.msi_live(2)
    s.message(kind=T_AFFINITY, mask=0x16, requester=REQ_ASSIGNED)
    s.msi_live(3)
    s.message(kind=T_ROUTABLE, cpu=0xFF, mask=0x3F, requester=REQ_NONE)
    s.msi_live(4)
    for index in (4, 3, 2, 1, 0):
        s.disconnect(index)
    out["remap-messages-wide-cpus"] = s
    return out


def main():
    seed_corpus.write("io_corpus", seeds())


if __name__ == "__main__":
    main()
