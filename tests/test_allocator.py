"""evaluator.allocator: freed blocks are reused instead of being mapped afresh (no page faults)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# A batch loop in miniature: blocks of 3..9 MB allocated, touched and freed in turn. Prints the page
# faults of the loop after a warm-up round (the first touch of each heap page is a fault either way).
LOOP = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    if sys.argv[1] == "retain":
        from evaluator.allocator import retain_freed_memory
        assert retain_freed_memory() is True and retain_freed_memory() is True  # once, idempotent
    faults = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    sizes = [(3 + i % 7) << 20 for i in range(40)]
    for size in sizes[:7]:
        block = np.ones(size, np.uint8); del block
    before = faults()
    for size in sizes:
        block = np.ones(size, np.uint8); del block
    print(faults() - before)
    """
)


def _loop_faults(mode: str) -> int:
    proc = subprocess.run([sys.executable, "-c", LOOP, mode], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split()[-1])


def test_freed_blocks_are_reused_without_page_faults():
    default = _loop_faults("default")  # glibc maps and unmaps (or trims) most of the blocks
    retained = _loop_faults("retain")
    assert default > 1000  # ~2 MB of fresh pages per block
    assert retained < default / 20
