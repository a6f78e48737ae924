# SPDX-License-Identifier: MIT
"""Writes a fuzzer's seed corpus (io_seeds.py, vic_seeds.py): each seed's
bytes to <corpus>/<name>.bin next to this file."""
import os
import sys


def write(corpus, seeds):
    directory = os.path.join(os.path.dirname(os.path.abspath(__file__)), corpus)
    os.makedirs(directory, exist_ok=True)
    for name, seed in seeds.items():
        with open(os.path.join(directory, name + ".bin"), "wb") as handle:
            handle.write(bytes(seed.data))
    print(f"wrote {len(seeds)} seeds to {directory}", file=sys.stderr)
