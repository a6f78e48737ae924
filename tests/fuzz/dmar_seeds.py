# SPDX-License-Identifier: MIT
"""Seed corpus of fuzz_dmar (tests/fuzz/dmar_corpus/): DMAR tables, VT-d
spec rev. 3.x ch. 8, built here byte by byte. Run: python3 dmar_seeds.py"""
import struct

import seed_corpus


class Seed:
    def __init__(self, haw=38, flags=1, oem=b"IRQRTE", table=b"SEEDTABL"):
        self.data = bytearray(b"DMAR" + bytes(4) + bytes([1, 0]) + oem + table +
                              struct.pack("<I", 1) + b"IRQR" + struct.pack("<I", 1))
        self.data += bytes([haw, flags]) + bytes(10)

    def structure(self, kind, body):
        self.data += struct.pack("<HH", kind, 4 + len(body)) + body

    def drhd(self, flags, segment, base, scopes=b""):
        self.structure(0, struct.pack("<BBHQ", flags, 0, segment, base) + scopes)

    def finish(self):
        struct.pack_into("<I", self.data, 4, len(self.data))
        self.data[9] = 0
        self.data[9] = (-sum(self.data)) & 0xFF
        return self


def scope(kind, enum_id, bus, *path):
    body = bytes([kind, 6 + 2 * len(path), 0, 0, enum_id, bus])
    for device, function in path:
        body += bytes([device, function])
    return body


def qemu_q35_edu():
    """QEMU 10.0.2: -machine q35 -device intel-iommu,intremap=on,eim=on -device edu."""
    seed = Seed(haw=47, flags=1, oem=b"BOCHS ", table=b"BXPC    ")
    seed.data[28:32] = b"BXPC"
    scopes = scope(3, 0, 0xFF, (0, 0))
    for device, function in ((0, 0), (1, 0), (2, 0), (3, 0), (0x1F, 0), (0x1F, 2), (0x1F, 3)):
        scopes += scope(1, 0, 0, (device, function))
    seed.drhd(0, 0, 0xFED90000, scopes)
    return seed.finish()


def two_units_skipped():
    seed = Seed(haw=45, flags=3)
    seed.drhd(0, 0, 0xFED91000, scope(1, 0, 0, (2, 0)) + scope(2, 0, 0, (0x1C, 0)) +
              scope(3, 1, 0xF1, (0, 0)) + scope(7, 0, 0, (0, 0)))
    seed.structure(1, bytes(20) + scope(1, 0, 0, (0x14, 0)))  # RMRR
    seed.structure(2, bytes(4))                                # ATSR
    seed.structure(3, bytes(16))                               # RHSA
    seed.structure(4, bytes(9))                                # ANDD
    seed.structure(5, bytes(4))                                # SATC
    seed.structure(0x40, bytes(3))                             # reserved
    seed.drhd(1, 0, 0xFED90000, scope(3, 2, 0xF0, (0x1F, 7)) + scope(4, 0, 0xF0, (0x0F, 0)))
    return seed.finish()


def bridged_and_segments():
    seed = Seed(haw=51, flags=1)
    seed.drhd(0, 0, 0xFED90000, scope(3, 4, 0, (0x1C, 0), (0, 3)) + scope(2, 0, 0, (0x1C, 0), (0, 0)))
    seed.drhd(1, 1, 0xFED92000, scope(5, 1, 0, (0, 0)))
    seed.drhd(1, 0, 0xFED93000, scope(3, 5, 0xF0, (0x1F, 0)))
    return seed.finish()


def minimal_include_all():
    seed = Seed()
    seed.drhd(1, 0, 0xFED90000, scope(3, 2, 0xF0, (0x1F, 0)))
    return seed.finish()


def duplicate_ioapic():
    """Refused (one I/O APIC id in two units): a seed to mutate around."""
    seed = Seed()
    seed.drhd(0, 0, 0xFED91000, scope(3, 3, 0xF0, (0, 0)))
    seed.drhd(1, 0, 0xFED90000, scope(3, 3, 0xF1, (0, 0)))
    return seed.finish()


def full_units():
    seed = Seed()
    for index in range(8):
        seed.drhd(0, 0, 0xFED90000 + index * 0x1000, scope(1, 0, index, (index, 0)))
    return seed.finish()


if __name__ == "__main__":
    seed_corpus.write("dmar_corpus", {
        "qemu-q35-edu": qemu_q35_edu(),
        "two-units-skipped-structures": two_units_skipped(),
        "bridged-paths-two-segments": bridged_and_segments(),
        "minimal-include-all": minimal_include_all(),
        "duplicate-ioapic": duplicate_ioapic(),
        "eight-units": full_units(),
    })
