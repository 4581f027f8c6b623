"""Exactness of the training loop: 2-process gloo DDP (torchrun) equals 1 process with the same
global batch; a resumed run equals an uninterrupted one; accumulation equals one big batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.finetune_fixtures import single_thread
from zoo.finetune.api import run_finetune
from zoo.finetune.data.classification import FASHION_MNIST_SYSTEM_DIR


@pytest.fixture(autouse=True)
def _one_thread():
    yield from single_thread()


pytestmark = pytest.mark.skipif(
    not FASHION_MNIST_SYSTEM_DIR.is_dir(), reason="Debian package dataset-fashion-mnist is not installed"
)

# A tiny LayerNorm network (no batch statistics, so per-rank batches give the same gradients),
# momentum SGD (optimizer state matters), drop_path (RNG matters) and a step schedule that changes
# the lr mid-run; 16 images / batch 8 = 2 steps per epoch, so the runs cross epoch boundaries.
SETS = ["train_limit=16", "batch_size=8", "image_size=32", "lr=0.05", "momentum=0.9", "schedule=step",
        "schedule_unit=iter", "step_size=3", "gamma=0.5", "drop_path=0.1"]  # fmt: skip


def _run(out, iters, **kwargs):
    return run_finetune(
        "test_convnext",
        task="fashion-mnist",
        mode="full",
        out=out,
        sets=[*SETS, f"iters={iters}", *kwargs.pop("extra", [])],
        pretrained=False,
        device="cpu",
        progress=False,
        log_every=1,
        evaluate=False,
        **kwargs,
    )


def _weights(folder):
    return load_file(str(folder / "model.safetensors"))


def test_resume_continues_exactly(tmp_path):
    _run(tmp_path / "straight", 6, checkpoint_every=2)
    stopped = _run(tmp_path / "resumed", 6, checkpoint_every=2, max_steps=3)
    assert not stopped.finished and stopped.step == 3
    assert not (tmp_path / "resumed" / "model.safetensors").exists()
    # A crash after step 3's checkpoint... the run resumes from the last complete checkpoint (step 3).
    resumed = run_finetune(
        "test_convnext", task="fashion-mnist", mode="full", out=None, resume=tmp_path / "resumed",
        pretrained=False, device="cpu", progress=False, log_every=1, evaluate=False, checkpoint_every=2,
    )  # fmt: skip
    assert resumed.finished and resumed.step == 6
    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "resumed")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    steps = [
        json.loads(line)["step"] for line in (tmp_path / "resumed" / "log.jsonl").read_text().splitlines()
    ]
    assert [s for s in steps if s <= 6][:6] == [1, 2, 3, 4, 5, 6]  # no duplicated log lines


def test_gradient_accumulation_equals_one_big_batch(tmp_path):
    _run(tmp_path / "one", 3, extra=["drop_path=0"])
    _run(tmp_path / "acc", 3, extra=["drop_path=0", "accumulation_steps=2"])
    a, b = _weights(tmp_path / "one"), _weights(tmp_path / "acc")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)


def test_two_process_ddp_equals_one_process(tmp_path):
    _run(tmp_path / "single", 4, extra=["drop_path=0"])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "zoo.finetune", "test_convnext", "--task", "fashion-mnist", "--out", str(tmp_path / "ddp"),
           "--scratch", "--device", "cpu", "--num-workers", "0", "--log-every", "1", "--no-eval",
           *(x for s in [*SETS, "drop_path=0", "iters=4"] for x in ("--set", s))]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((tmp_path / "ddp" / "run.json").read_text())["world_size"] == 2
    a, b = _weights(tmp_path / "single"), _weights(tmp_path / "ddp")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)
    assert not torch.equal(a["head.fc.weight"], torch.zeros_like(a["head.fc.weight"]))
