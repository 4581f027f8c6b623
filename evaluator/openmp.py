"""OpenMP threads that sleep when idle: torch's CPU threads must not spin on a busy machine.

torch's CPU kernels run on an OpenMP team. After each parallel region GNU OpenMP's idle threads spin
for a while (``OMP_WAIT_POLICY`` unset: about 300k polls) before they sleep. On an idle machine that
saves a wake-up; on a busy one (another process, an evaluation worker next to a server, the
corruption engine's own per-picture threads) a spinning thread holds a core that the thread with
the actual work needs, and a parallel region waits for a team member that is not running. Measured
on this 2-core VM with one other busy process: motion_blur on 8 pictures of 224 px took 271 ms of CPU
per picture instead of 2.0, defocus_blur 18.6 instead of 1.8 (benchmarks/corruptions.py); with
``OMP_WAIT_POLICY=PASSIVE`` the idle threads sleep at once and the same runs keep their quiet-machine
speed. rzoo's command line and benchmarks therefore default to ``PASSIVE``.

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
