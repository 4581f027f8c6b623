"""Shared test setup: never touch the network or the user's Hugging Face cache."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# Set before anything imports huggingface_hub: offline by default (a test that serves a local Hub
# flips it per test), and an isolated cache so the developer's cache is never read or written.
_SESSION_HF_HOME = Path(os.environ.setdefault("RZOO_TEST_HF_HOME", f"/tmp/rzoo-test-hf-{os.getpid()}"))
os.environ["HF_HOME"] = str(_SESSION_HF_HOME)
os.environ.pop("HF_HUB_CACHE", None)
os.environ.pop("HF_TOKEN", None)
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the rzoo command line (evaluator/openmp.py)

REPO_ROOT = Path(__file__).resolve().parent.parent

# The local Hugging Face Hub fixture (`local_hub`), available to every test module.
from tests.hub_server import local_hub  # noqa: E402, F401


@pytest.fixture
def python_executable() -> str:
    return sys.executable
