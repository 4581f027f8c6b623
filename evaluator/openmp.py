"""OpenMP threads that sleep when idle: torch's CPU threads must not spin on a busy machine.

torch's CPU kernels run on an OpenMP team. After each parallel region GNU OpenMP's idle threads spin
for a while (``OMP_WAIT_POLICY`` unset: about 10 ms of CPU here) before they sleep. On an idle machine
that saves a wake-up per op; on a busy one (another process, an evaluation worker next to a server or
a database) a spinning thread holds a core that the thread with the actual work needs, and every
parallel region waits for a team member that is not running. rzoo's command line and benchmarks
therefore default to ``OMP_WAIT_POLICY=PASSIVE``. Measured on the 2-core VM
(``benchmarks/eval_throughput.py``, resnet18, 32 px, batch 128; the full run is clean + 19 x 5 shards):

| machine | policy | bare forward | full run |
|---|---|---|---|
| one other busy process | unset | 258 img/s | 567 s per 1000 images |
| one other busy process | PASSIVE | 514 img/s | 253 s per 1000 images |
| idle | ACTIVE | 984 img/s | 134 s per 1000 images |
| idle | PASSIVE | 763 img/s | 177 s per 1000 images |

So a dedicated, otherwise idle machine gains about a quarter with ``OMP_WAIT_POLICY=ACTIVE`` set by
hand; a shared one loses half or more without PASSIVE. (The corruption engine itself no longer cares:
its CPU workers run one torch thread each. With the old layout, where every op of a corruption ran on
the OpenMP team, motion_blur took 271 ms of CPU per 224 px picture instead of 2 next to a busy
process.)

The policy is read once, when OpenMP starts (on ``import torch``): :func:`sleep_when_idle` only takes
effect before that, and never overrides a policy the user has set.
"""

from __future__ import annotations

import os
import sys

POLICY_VARIABLE = "OMP_WAIT_POLICY"


def sleep_when_idle() -> bool:
    """Default ``OMP_WAIT_POLICY`` to ``PASSIVE`` for this process and its children, unless it is set;
    True when the policy now in force is passive (False: torch was already imported with another)."""
    if "torch" in sys.modules:
        return os.environ.get(POLICY_VARIABLE, "").upper() == "PASSIVE"
    os.environ.setdefault(POLICY_VARIABLE, "PASSIVE")
    return os.environ[POLICY_VARIABLE].upper() == "PASSIVE"
