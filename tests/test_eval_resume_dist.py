"""Interrupted runs resume to the same numbers; 2 gloo ranks under torchrun equal one process
(cifar10-c top-1, coco-c box/mask AP of a Mask R-CNN, ade20k-c mIoU of an UperNet)."""

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
from tests.evalkit import (
    CIFAR_DATA_CONFIG,
    cifar_images,
    tiny_cnn,
    write_ade20k,
    write_cifar10,
    write_cifar10_c,
    write_coco,
    write_maskrcnn_folder,
    write_upernet_folder,
)
from tests.finetune_fixtures import single_thread
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
    """Every number of every metric is equal (exactly: no tolerance)."""
    assert a.primary_metric == b.primary_metric
    assert a.metrics.keys() == b.metrics.keys()
    for name, x in a.metrics.items():
        y = b.metrics[name]
        assert x.clean == y.clean, name
        assert x.corrupted == y.corrupted, name
        assert x.per_corruption == y.per_corruption, name
        assert (x.mPC, x.rPC, x.mCE) == (y.mPC, y.rPC, y.mCE), name


def _same_shards(work_a, work_b) -> None:
    """The persisted merged states (counts, confusion matrices, COCO detections) are byte-identical."""
    names = sorted(p.name for p in (work_a / "shards").glob("*.json"))
    assert names and names == sorted(p.name for p in (work_b / "shards").glob("*.json"))
    for name in names:
        assert (work_a / "shards" / name).read_bytes() == (work_b / "shards" / name).read_bytes(), name


def _torchrun(ckpt, task: str, data_root, work, corruptions: str, severities: str, batch_size: int):
    """``python -m torch.distributed.run --nproc_per_node 2 -m evaluator ...`` on gloo (CPU)."""
    out = work.parent / f"{work.name}.json"
    argv = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    argv += ["--master_port", str(_free_port())]
    argv += ["-m", "evaluator", str(ckpt), "--task", task, "--data-root", str(data_root)]
    argv += ["--corruptions", corruptions, "--severities", severities, "--out", str(out), "--quiet"]
    argv += ["--work-dir", str(work), "--batch-size", str(batch_size)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = EvalResult.load(out)
    assert result.manifest.world_size == 2
    return result


def _one_process(ckpt, task: str, data_root, work, corruptions: str, severities: str, batch_size: int):
    cfg = EvalConfig(
        str(ckpt),
        task,
        data_root,
        corruptions=tuple(corruptions.split(",")),
        severities=tuple(int(s) for s in severities.split(",")),
        progress=False,
        batch_size=batch_size,
        work_dir=work,
    )
    result = evaluate_model(load_model(cfg), cfg)
    assert result.manifest.world_size == 1
    return result


def _rank_sizes(n: int) -> list[int]:
    """How many of ``n`` images each of 2 ranks evaluates."""
    from evaluator.distributed import DistContext

    return [len(DistContext(rank, 2).split(n)) for rank in range(2)]


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
    images, labels = write_cifar10(tmp_path, n=37)
    write_cifar10_c(tmp_path, images, labels, ["contrast"])  # one corruption from files, others on the fly
    ckpt = _onnx_checkpoint(tmp_path)
    run = (ckpt, "cifar10-c", tmp_path)
    corruptions, severities = "contrast,gaussian_noise,pixelate", "1,5"
    distributed = _torchrun(*run, tmp_path / "dist", corruptions, severities, batch_size=8)
    single = _one_process(*run, tmp_path / "single", corruptions, severities, batch_size=16)
    _same(distributed, single)
    _same_shards(tmp_path / "dist", tmp_path / "single")
    assert distributed.num_images == single.num_images == 37
    assert _rank_sizes(37) == [19, 18]  # odd size: the ranks evaluate different numbers of images


@pytest.fixture
def one_thread():
    """The torchrun children run with OMP_NUM_THREADS=1; so does the single process they are compared
    to (the Mask R-CNN's float outputs differ in the last bits with the intra-op thread count)."""
    yield from single_thread()


def _two_ranks_equal_one_process(tmp_path, run: tuple, corruptions: str, severities: str, single_batch: int):
    """Run 5 images on 2 gloo ranks (batches of 2) and in one process; every number and every saved
    shard state must be equal. Returns the single-process result."""
    distributed = _torchrun(*run, tmp_path / "dist", corruptions, severities, batch_size=2)
    single = _one_process(*run, tmp_path / "single", corruptions, severities, batch_size=single_batch)
    _same(distributed, single)
    _same_shards(tmp_path / "dist", tmp_path / "single")
    assert distributed.num_images == single.num_images == 5 and _rank_sizes(5) == [3, 2]
    return single


def test_coco_c_two_gloo_ranks_equal_one_process(tmp_path, one_thread) -> None:
    """Box and mask AP of a Mask R-CNN: the ranks' detections are concatenated, then scored by COCOeval."""
    data = write_coco(tmp_path / "coco", n=5)  # images of different sizes, sparse image ids
    assert len({(img["height"], img["width"]) for img in data["images"]}) == 5
    ckpt = write_maskrcnn_folder(tmp_path / "det")
    corruptions = "gaussian_noise,contrast"
    # Rank 0 runs images 0, 2, 4 in batches of 2, rank 1 images 1, 3; one process all 5 in a batch.
    single = _two_ranks_equal_one_process(tmp_path, (ckpt, "coco-c", tmp_path / "coco"), corruptions, "3", 5)
    assert set(single.metrics) == {"box_ap", "mask_ap"}
    for metric in single.metrics.values():  # numbers that a lost or duplicated detection would move
        assert 0 < metric.clean < 1
        assert all(0 < metric.corrupted[c][3] < 1 for c in corruptions.split(","))
    shard = json.loads((tmp_path / "dist" / "shards" / "clean-s0.json").read_text())
    detected = {d["image_id"] for d in shard["state"]["detections"]}
    assert detected == {img["id"] for img in data["images"]}  # both ranks' detections were merged


def _own_predictions(ckpt, pictures: list) -> list:
    """ADE20K label maps (raw = class + 1) that are the UperNet's own predictions on the pictures,
    so that mIoU is far from 0 and corruptions move it; a 2-px border is "other" (raw 0, ignored)."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from evaluator.tasks.ade20k_c import TASK
    from zoo.dense import load_dense_model

    model, config = load_dense_model(ckpt)
    prepare = TASK.make_prepare(config)
    labels = []
    for pic in pictures:
        (x,) = prepare([torch.from_numpy(pic).permute(2, 0, 1)])
        with torch.inference_mode():
            logits = F.interpolate(model(x), size=pic.shape[:2], mode="bilinear", align_corners=False)
        raw = logits.argmax(1)[0].numpy().astype(np.uint8) + 1
        raw[:2], raw[-2:], raw[:, :2], raw[:, -2:] = 0, 0, 0, 0
        labels.append(raw)
    return labels


def test_ade20k_c_two_gloo_ranks_equal_one_process(tmp_path, one_thread) -> None:
    """mIoU of an UperNet: the ranks' 150 x 150 confusion matrices are summed."""
    import numpy as np

    ckpt = write_upernet_folder(tmp_path / "seg", seed=1)
    pictures = list(cifar_images(3, seed=1, size=40)) + list(cifar_images(2, seed=2, size=48))
    labels = _own_predictions(ckpt, pictures)
    write_ade20k(tmp_path / "ade", pictures, labels)
    run = (ckpt, "ade20k-c", tmp_path / "ade")
    single = _two_ranks_equal_one_process(tmp_path, run, "gaussian_noise,contrast", "3,5", 4)
    miou = single.primary
    assert single.primary_metric == "miou" and 0.5 < miou.clean <= 1
    assert all(0 < v < miou.clean for table in miou.corrupted.values() for v in table.values())
    shard = json.loads((tmp_path / "dist" / "shards" / "clean-s0.json").read_text())
    labelled = sum(int(np.count_nonzero(lab)) for lab in labels)
    assert sum(shard["state"]["confusion"]) == labelled  # every labelled pixel of both ranks, once
