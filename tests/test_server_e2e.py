"""End to end on SQLite: `rzoo serve` as a real process, `rzoo submit --wait`, then the leaderboard
shows exactly the numbers `rzoo eval` computes for the same checkpoint and data."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

from evaluator.protocol import COMMON_CORRUPTIONS
from tests.conftest import REPO_ROOT
from tests.evalkit import write_cifar10, write_cifar10_c
from tests.server_helpers import free_port

ARCH = "test_resnet"


def _rzoo(*argv: str, **kwargs) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    return subprocess.run(
        [sys.executable, "-m", "zoo.cli", *argv],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        **kwargs,
    )


def _tiny_timm_safetensors(path: Path) -> Path:
    """A tiny timm model (test_resnet, 10 classes, fixed seed) saved as safetensors."""
    import timm
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    save_file(timm.create_model("test_resnet", num_classes=10).eval().state_dict(), str(path))
    return path


def _cifar_data(root: Path, checkpoint: Path) -> Path:
    """Tiny CIFAR-10 + CIFAR-10-C in the official layouts; half the labels are the model's own
    predictions (through its real loader and preprocessing) so accuracies and rPC are non-trivial."""
    import torch

    import zoo
    from evaluator.preprocessing import ClassifierPreprocessing

    loaded = zoo.load_checkpoint(checkpoint, arch=ARCH)
    images, labels = write_cifar10(root, n=8)
    prepare = ClassifierPreprocessing.from_data_config(loaded.data_config)
    with torch.inference_mode():
        predicted = loaded.model(prepare(torch.from_numpy(images).permute(0, 3, 1, 2))).argmax(1).numpy()
    labels = np.where(np.arange(len(labels)) % 2 == 0, predicted, labels)
    batch = root / "cifar-10-batches-py" / "test_batch"
    record = pickle.loads(batch.read_bytes())
    record[b"labels"] = [int(v) for v in labels]
    batch.write_bytes(pickle.dumps(record, protocol=2))
    write_cifar10_c(root, images, labels, list(COMMON_CORRUPTIONS))
    return root


def test_serve_submit_wait_and_leaderboard_equals_rzoo_eval(tmp_path):
    checkpoint = _tiny_timm_safetensors(tmp_path / "tiny-resnet.safetensors")
    cifar_root = _cifar_data(tmp_path / "data", checkpoint)
    home = tmp_path / "server"
    token = _rzoo("token", "create", "alice", "--admin", "--home", str(home))
    assert token.returncode == 0, token.stderr
    token = token.stdout.strip()

    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "zoo.cli",
            "serve",
            "--home",
            str(home),
            "--data-root",
            str(cifar_root),
            "--port",
            str(port),
        ],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "rzoo serve did not come up"
            time.sleep(0.2)

        submitted = _rzoo(
            "submit", str(checkpoint), "--task", "cifar10-c", "--arch", ARCH, "--server", url, "--token", token, "--wait",
            "--name", "tiny-resnet", "--timeout", "240",
        )  # fmt: skip
        assert submitted.returncode == 0, submitted.stderr
        served = json.loads(submitted.stdout)
        board = httpx.get(f"{url}/api/leaderboard/cifar10-c").json()
        page = httpx.get(f"{url}/leaderboard/cifar10-c").text
        sub_page = httpx.get(f"{url}/submissions/{served['submission_id']}").text

        # Re-queue after losing some shards: the real evaluator resumes from the finished ones
        # (same files, untouched) and recomputes only the missing ones; the numbers do not change.
        shard_dir = home / "jobs" / "job-1" / "shards" / "shards"
        shards = sorted(shard_dir.glob("*.json"))
        assert len(shards) == 76  # clean + 15 corruptions x 5 severities
        lost = [p for p in shards if p.name.startswith(("fog-", "snow-"))]
        for path in lost:
            path.unlink()
        kept = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in shards if p not in lost}
        headers = {"Authorization": f"Bearer {token}"}
        sub_id = served["submission_id"]
        assert httpx.post(f"{url}/api/submissions/{sub_id}/requeue", headers=headers).status_code == 200
        deadline = time.monotonic() + 240
        while httpx.get(f"{url}/api/submissions/{sub_id}", headers=headers).json()["status"] != "done":
            assert time.monotonic() < deadline, "the re-queued job did not finish"
            time.sleep(0.5)
        rerun = httpx.get(f"{url}/api/submissions/{sub_id}/results").json()
        assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in shard_dir.glob("*.json")} == {
            **kept,
            **{p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in lost},
        }
        assert all(p.exists() for p in lost)
        assert rerun["corrupted"] == served["corrupted"] and rerun["mPC"] == served["mPC"]
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()

    local = _rzoo(
        "eval", str(checkpoint), "--arch", ARCH, "--task", "cifar10-c", "--data-root", str(cifar_root), "--quiet",
        "--out", str(tmp_path / "local.json"), "--work-dir", str(tmp_path / "local-work"),
    )  # fmt: skip
    assert local.returncode == 0, local.stderr
    expected = json.loads((tmp_path / "local.json").read_text())["metrics"]["top1"]

    (row,) = board["rows"]
    assert (
        row["model_name"] == "tiny-resnet" and row["submitted_by"] == "alice" and row["architecture"] == ARCH
    )
    assert (row["clean"], row["mPC"], row["rPC"]) == (expected["clean"], expected["mPC"], expected["rPC"])
    assert served["corrupted"] == expected["corrupted"]  # all 15 x 5 cells, exactly
    assert served["document"]["metrics"]["top1"]["per_corruption"] == expected["per_corruption"]
    assert len(served["corrupted"]) == 15 and all(len(v) == 5 for v in served["corrupted"].values())
    assert 0 < expected["clean"] < 1 and expected["rPC"] is not None
    for value in (expected["clean"], expected["mPC"], expected["rPC"]):
        assert f"{100 * value:.2f}" in page
    assert sub_page.count("<rect") >= 75
