"""CIFAR-10-C end to end: official pickle + .npy layouts, scores equal a plain reference loop."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from evaluator import EvalConfig
from evaluator.engine import ModelUnderTest, evaluate_model
from evaluator.results import CheckpointIdentity, EvalResult
from tests.evalkit import (
    CIFAR_DATA_CONFIG,
    reference_top1,
    tiny_cnn,
    write_cifar10,
    write_cifar10_c,
)
from zoo.errors import DatasetNotFoundError, InvalidInputError, UnsafeFileError

IDENTITY = CheckpointIdentity(name="tiny-cnn", architecture="tiny_cnn", source="folder")


def _mut(model=None) -> ModelUnderTest:
    return ModelUnderTest(model or tiny_cnn(), CIFAR_DATA_CONFIG, "classifier", IDENTITY)


def test_precomputed_npy_scores_equal_plain_loop(tmp_path) -> None:
    images, labels = write_cifar10(tmp_path, n=40)
    arrays = write_cifar10_c(tmp_path, images, labels, ["fog", "saturate"])
    model = tiny_cnn()
    cfg = EvalConfig(
        "tiny",
        "cifar10-c",
        tmp_path,
        corruptions=("fog", "saturate"),
        severities=(1, 3, 5),
        batch_size=16,
        progress=False,
    )
    result = evaluate_model(_mut(model), cfg)

    top1 = result.primary
    assert top1.clean == pytest.approx(reference_top1(model, images, labels))
    for severity in (1, 3, 5):
        rows = arrays["fog"][(severity - 1) * 40 : severity * 40]
        assert top1.corrupted["fog"][severity] == pytest.approx(reference_top1(model, rows, labels))
        rows = arrays["saturate"][(severity - 1) * 40 : severity * 40]
        assert top1.holdout.corrupted["saturate"][severity] == pytest.approx(
            reference_top1(model, rows, labels)
        )
    assert "saturate" not in top1.corrupted  # holdout kept apart
    assert top1.mPC == pytest.approx(np.mean(list(top1.corrupted["fog"].values())))
    assert top1.mCE is None and top1.relative_mCE is None  # no AlexNet baseline for CIFAR
    assert result.num_images == 40
    assert result.manifest.corruption_backend == "released files"
    EvalResult.from_dict(result.to_dict())  # schema round trip


def test_limit_reads_matching_rows_of_every_severity_block(tmp_path) -> None:
    images, labels = write_cifar10(tmp_path, n=30)
    arrays = write_cifar10_c(tmp_path, images, labels, ["contrast"])
    model = tiny_cnn(seed=3)
    cfg = EvalConfig(
        "t", "cifar10-c", tmp_path, corruptions=("contrast",), severities=(4,), limit=7, progress=False
    )
    result = evaluate_model(_mut(model), cfg)
    rows = arrays["contrast"][3 * 30 : 3 * 30 + 7]
    assert result.num_images == 7
    assert result.primary.corrupted["contrast"][4] == pytest.approx(reference_top1(model, rows, labels[:7]))


def test_upsampling_recipe_matches_hand_written_transform(tmp_path) -> None:
    """A 224-px checkpoint on CIFAR: Resize(256) + CenterCrop(224) as in the paper's recipe."""
    import torch
    import torch.nn.functional as F

    images, labels = write_cifar10(tmp_path, n=6)
    write_cifar10_c(tmp_path, images, labels, ["fog"])
    model = tiny_cnn(seed=5)
    config = {"input_size": (3, 224, 224), "crop_pct": 0.875, "interpolation": "bilinear"}
    cfg = EvalConfig("t", "cifar10-c", tmp_path, corruptions=("fog",), severities=(1,), progress=False)
    mut = ModelUnderTest(model, config, "classifier", IDENTITY)
    from evaluator.tasks import get_task

    prepare = get_task("cifar10-c").make_prepare(config)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    up = F.interpolate(x, size=(256, 256), mode="bilinear", antialias=True, align_corners=False)[
        ..., 16:240, 16:240
    ]
    mean = torch.tensor((0.485, 0.456, 0.406)).view(1, 3, 1, 1)
    std = torch.tensor((0.229, 0.224, 0.225)).view(1, 3, 1, 1)
    expected = (up.clamp(0, 255) / 255 - mean) / std
    assert torch.allclose(prepare(torch.from_numpy(images).permute(0, 3, 1, 2)), expected, atol=1e-4)
    result = evaluate_model(mut, cfg)
    with torch.inference_mode():
        predicted = model(expected).argmax(1).numpy()
    assert result.primary.clean == pytest.approx(float((predicted == labels).mean()))


def test_missing_dataset_names_the_download_command(tmp_path) -> None:
    cfg = EvalConfig("t", "cifar10-c", tmp_path / "nowhere", progress=False)
    with pytest.raises(DatasetNotFoundError, match="rzoo data download cifar10-c"):
        evaluate_model(_mut(), cfg)


def test_malicious_pickle_is_refused_without_running_it(tmp_path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (folder / "test_batch").write_bytes(pickle.dumps({b"data": Exploit()}, protocol=2))
    with pytest.raises(UnsafeFileError, match=r"builtins\.open|io\.open"):
        evaluate_model(_mut(), EvalConfig("t", "cifar10-c", tmp_path, progress=False))
    assert not marker.exists()


def test_npy_with_pickled_objects_is_refused(tmp_path) -> None:
    write_cifar10(tmp_path, n=5)
    folder = tmp_path / "CIFAR-10-C"
    folder.mkdir()
    np.save(folder / "fog.npy", np.array([object()] * 3, dtype=object), allow_pickle=True)
    cfg = EvalConfig("t", "cifar10-c", tmp_path, corruptions=("fog",), severities=(1,), progress=False)
    with pytest.raises(InvalidInputError, match=r"not a plain \.npy"):
        evaluate_model(_mut(), cfg)


def test_nan_outputs_are_an_error_not_a_score(tmp_path) -> None:
    import torch
    from torch import nn

    write_cifar10(tmp_path, n=4)

    class NaNHead(nn.Module):
        def forward(self, x):
            return torch.full((x.shape[0], 10), float("nan"))

    with pytest.raises(InvalidInputError, match="NaN/Inf"):
        evaluate_model(_mut(NaNHead()), EvalConfig("t", "cifar10-c", tmp_path, progress=False))


def test_wrong_number_of_classes_is_refused(tmp_path) -> None:
    write_cifar10(tmp_path, n=4)
    with pytest.raises(InvalidInputError, match="outputs 1000 classes"):
        evaluate_model(
            _mut(tiny_cnn(num_classes=1000)), EvalConfig("t", "cifar10-c", tmp_path, progress=False)
        )


def test_prefetching_threads_do_not_change_the_numbers(tmp_path, monkeypatch) -> None:
    # on the fly: prepared in turn in the model's thread (the CPU default) or by 2 prefetching threads
    import threading

    from evaluator import engine

    write_cifar10(tmp_path, n=37)
    model = tiny_cnn()
    load_images = engine._load_images
    loaded_in: list[threading.Thread] = []

    def recording_load(*args, **kwargs):
        loaded_in.append(threading.current_thread())
        return load_images(*args, **kwargs)

    monkeypatch.setattr(engine, "_load_images", recording_load)
    results, threads = [], []
    for workers in (None, 2):
        loaded_in.clear()
        cfg = EvalConfig(
            "tiny",
            "cifar10-c",
            tmp_path,
            corruptions=("gaussian_noise", "pixelate"),
            severities=(2, 5),
            batch_size=8,
            progress=False,
            num_workers=workers,
        )
        results.append(evaluate_model(_mut(model), cfg).to_dict()["metrics"])
        threads.append(set(loaded_in))
    assert results[0] == results[1]
    assert threads[0] == {threading.main_thread()}  # in turn, in the caller's thread
    assert threading.main_thread() not in threads[1] and len(threads[1]) >= 1  # ahead, in the pool


def test_batches_are_prepared_in_turn_on_the_cpu_and_ahead_on_a_gpu(tmp_path) -> None:
    assert EvalConfig("t", "cifar10-c", tmp_path).prefetch_workers == 0
    assert EvalConfig("t", "cifar10-c", tmp_path, device="cuda").prefetch_workers == 2
    assert EvalConfig("t", "cifar10-c", tmp_path, num_workers=3).prefetch_workers == 3
    with pytest.raises(InvalidInputError, match="--workers must be >= 0"):
        EvalConfig("t", "cifar10-c", tmp_path, num_workers=-1)
