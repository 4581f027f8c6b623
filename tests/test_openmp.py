"""rzoo's processes let idle OpenMP threads sleep (evaluator/openmp.py), unless the user chose."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

# After a parallel torch op, how much CPU the process burns while its main thread sleeps 0.3 s: what
# idle OpenMP threads cost the other work on the machine.
_PROBE = """
import os, sys, time
sys.path.insert(0, {root!r})
import zoo.cli  # the rzoo command line, imported first as the console script does
import torch
torch.set_num_threads(2)
x = torch.ones(1 << 22)
for _ in range(20):
    x.add_(1)
start = time.process_time()
time.sleep(0.3)
print(os.environ.get("OMP_WAIT_POLICY"), time.process_time() - start)
"""


def _idle_cpu(policy: str | None) -> tuple[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy is not None:
        env["OMP_WAIT_POLICY"] = policy
    env["OMP_NUM_THREADS"] = "2"
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(root=str(REPO_ROOT))],
        env=env, capture_output=True, text=True, check=True, timeout=120,
    ).stdout.split()  # fmt: skip
    return out[0], float(out[1])


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores for a second OpenMP thread")
def test_rzoo_lets_idle_openmp_threads_sleep_and_keeps_a_users_policy():
    policy, cpu = _idle_cpu(None)
    assert policy == "PASSIVE"
    assert cpu < 0.005  # GNU OpenMP's default spins ~10 ms of CPU after every parallel region here
    policy, cpu = _idle_cpu("ACTIVE")  # the user's choice stands: its threads spin while idle
    assert policy == "ACTIVE" and cpu > 0.1


def test_sleep_when_idle_cannot_change_a_running_openmp():
    probe = (
        f"import sys, os; sys.path.insert(0, {str(REPO_ROOT)!r}); os.environ.pop('OMP_WAIT_POLICY', None); "
        "import torch; from evaluator.openmp import sleep_when_idle; "
        "print(sleep_when_idle(), os.environ.get('OMP_WAIT_POLICY'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["False", "None"]  # torch came first: reported, nothing pretended
