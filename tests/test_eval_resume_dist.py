"""Interrupted runs resume to the same numbers; 2 gloo ranks under torchrun equal one process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from evaluator import EvalConfig
from evaluator.engine import evaluate_model, load_model
from evaluator.onnx_io import export_onnx
from evaluator.results import EvalResult
from tests.evalkit import CIFAR_DATA_CONFIG, tiny_cnn, write_cifar10, write_cifar10_c
from zoo.errors import InvalidInputError

CORRUPTIONS = ("gaussian_noise", "impulse_noise", "contrast", "pixelate")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _onnx_checkpoint(tmp_path, seed: int = 1):
    path = tmp_path / "model.onnx"
    export_onnx(tiny_cnn(seed=seed), path, (3, 32, 32), data_config=dict(CIFAR_DATA_CONFIG))
    return path


def _cfg(ckpt, root, **kw) -> EvalConfig:
    return EvalConfig(str(ckpt), "cifar10-c", root, corruptions=CORRUPTIONS, progress=False, **kw)


def _same(a: EvalResult, b: EvalResult) -> None:
    assert a.primary.clean == b.primary.clean
    assert a.primary.corrupted == b.primary.corrupted
    assert a.primary.mPC == b.primary.mPC


def test_killed_run_resumes_to_the_uninterrupted_numbers(tmp_path) -> None:
    write_cifar10(tmp_path, n=100)  # no CIFAR-10-C folder: every shard corrupts on the fly
    ckpt = _onnx_checkpoint(tmp_path)
    work = tmp_path / "work"
    argv = [sys.executable, "-m", "evaluator", str(ckpt), "--task", "cifar10-c", "--data-root", str(tmp_path)]
    argv += ["--corruptions", ",".join(CORRUPTIONS), "--work-dir", str(work), "--quiet", "--batch-size", "25"]
    argv += ["--severities", "1,3,5"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    shards = work / "shards"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(shards.glob("*.json"))) < 3:
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.name: p.stat().st_mtime_ns for p in shards.glob("*.json")}
    total = 1 + len(CORRUPTIONS) * 3
    assert 3 <= len(done_before) < total, "the run was not interrupted midway"

    # Damage one finished shard as a crash or a full disk would: it must be detected and redone.
    victim = sorted(done_before)[0]
    text = (shards / victim).read_text()
    (shards / victim).write_text(text[: len(text) // 2])

    cfg = _cfg(ckpt, tmp_path, work_dir=work, resume=True, batch_size=64, severities=(1, 3, 5))
    resumed = evaluate_model(load_model(cfg), cfg)
    after = {p.name: p.stat().st_mtime_ns for p in shards.glob("*.json")}
    assert len(after) == total
    reused = [n for n in done_before if n != victim and after[n] == done_before[n]]
    assert len(reused) == len(done_before) - 1  # the intact shards were not recomputed
    assert after[victim] != done_before[victim]  # the truncated one was

    fresh_cfg = _cfg(ckpt, tmp_path, batch_size=64, severities=(1, 3, 5))
    _same(resumed, evaluate_model(load_model(fresh_cfg), fresh_cfg))


def test_shards_of_another_run_are_not_reused(tmp_path) -> None:
    images, labels = write_cifar10(tmp_path, n=20)
    write_cifar10_c(tmp_path, images, labels, list(CORRUPTIONS))
    work = tmp_path / "work"
    a, b = _onnx_checkpoint(tmp_path / "a", seed=1), _onnx_checkpoint(tmp_path / "b", seed=2)
    evaluate_model(load_model(_cfg(a, tmp_path)), _cfg(a, tmp_path, work_dir=work))
    cfg_b = _cfg(b, tmp_path, work_dir=work, resume=True)
    _same(evaluate_model(load_model(cfg_b), cfg_b), evaluate_model(load_model(cfg_b), _cfg(b, tmp_path)))
    run = json.loads((work / "run.json").read_text())
    assert run["config"]["checkpoint"]["sha256"] != "" and run["format"] == "rzoo.run/1"


def test_resume_needs_a_work_dir(tmp_path) -> None:
    with pytest.raises(InvalidInputError, match="work"):
        EvalConfig("x", "cifar10-c", tmp_path, resume=True)


def test_two_gloo_ranks_under_torchrun_equal_one_process(tmp_path) -> None:
    images, labels = write_cifar10(tmp_path, n=37)  # odd size: ranks get 19 and 18 images
    write_cifar10_c(tmp_path, images, labels, ["contrast"])  # one corruption from files, others on the fly
    ckpt = _onnx_checkpoint(tmp_path)
    corruptions = "contrast,gaussian_noise,pixelate"
    out = tmp_path / "dist.json"
    argv = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(_free_port()),
    ]
    argv += ["-m", "evaluator", str(ckpt), "--task", "cifar10-c", "--data-root", str(tmp_path)]
    argv += ["--corruptions", corruptions, "--severities", "1,5", "--out", str(out), "--quiet"]
    argv += ["--work-dir", str(tmp_path / "work"), "--batch-size", "8"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    distributed = EvalResult.load(out)
    assert distributed.manifest.world_size == 2

    cfg = EvalConfig(
        str(ckpt),
        "cifar10-c",
        tmp_path,
        corruptions=tuple(corruptions.split(",")),
        severities=(1, 5),
        progress=False,
        batch_size=16,
    )
    single = evaluate_model(load_model(cfg), cfg)
    assert single.manifest.world_size == 1
    _same(distributed, single)
    assert distributed.num_images == single.num_images == 37
