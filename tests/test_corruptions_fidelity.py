"""Fidelity of the torch backend to the reference, on real photos: one table row per corruption.

The criterion of each corruption lives in ``evaluator.corruptions.fidelity.CRITERIA`` (``exact``: mean
absolute difference <= 1 grey level; ``distribution``: residual mean/std within 5 % and SSIM-to-clean
within 0.02 of the reference's, averaged over photos and seeds). Every corruption of the protocol is
in the table; a family that has not landed yet is skipped. The default run checks every severity at
32 px (cifar10-c) and severities 1, 3, 5 at 224 px (imagenet-c) on two photos; ``-m slow`` runs the full
sweep that ``benchmarks/corruption_fidelity.py`` prints.
"""

from __future__ import annotations

import dataclasses

import pytest

from evaluator.corruptions import CORRUPTIONS, PARAM_SETS
from evaluator.corruptions import reference_cifar as ref_cifar
from evaluator.corruptions.fidelity import CRITERIA, measure
from evaluator.protocol import ALL_CORRUPTIONS, SEVERITIES

QUICK = {"imagenet-c": ((1, 3, 5), 2, 2), "cifar10-c": (SEVERITIES, 4, 12)}  # severities, photos, seeds


def _require(name: str) -> None:
    if name not in CORRUPTIONS:
        pytest.skip(f"{name}: its family has not landed")


@pytest.mark.parametrize("params", PARAM_SETS)
@pytest.mark.parametrize("name", ALL_CORRUPTIONS)
def test_torch_backend_matches_the_reference(name, params):
    _require(name)
    severities, num_photos, seeds = QUICK[params]
    seeds = max(seeds, CRITERIA[name].seeds[params] if CRITERIA[name].kind == "distribution" else 0)
    failures = []
    for severity in severities:
        m = measure(name, params, severity, num_photos=num_photos, seeds=seeds)
        if not m.passed:
            failures.append(f"severity {severity}: {m.describe()} (needs {m.criterion.describe()})")
    assert not failures, f"{name} {params}: " + "; ".join(failures)


@pytest.mark.slow
@pytest.mark.parametrize("params", PARAM_SETS)
@pytest.mark.parametrize("name", ALL_CORRUPTIONS)
def test_torch_backend_matches_the_reference_full_sweep(name, params):
    _require(name)
    for severity in SEVERITIES:
        m = measure(name, params, severity)
        assert m.passed, f"{name} {params} {severity}: {m.describe()} (needs {m.criterion.describe()})"


def test_every_corruption_has_a_criterion_of_the_right_kind():
    assert set(CRITERIA) == set(ALL_CORRUPTIONS)
    for name, spec in CORRUPTIONS.items():
        assert CRITERIA[name].kind == ("distribution" if spec.random else "exact"), name


@pytest.mark.parametrize(("name", "params"), [("contrast", "cifar10-c"), ("gaussian_noise", "cifar10-c")])
def test_the_harness_catches_a_one_severity_discrepancy(name, params, monkeypatch):
    from evaluator.corruptions import reference

    assert measure(name, params, 3, num_photos=2, seeds=4).passed
    genuine = reference.corrupt

    def one_severity_up(img, name, severity, seed, params="imagenet-c"):
        return genuine(img, name, severity + 1, seed, params)

    monkeypatch.setattr(reference, "corrupt", one_severity_up)
    assert not measure(name, params, 3, num_photos=2, seeds=4).passed


def _plain(param):
    if dataclasses.is_dataclass(param):
        return param
    return tuple(float(v) for v in param) if isinstance(param, tuple | list) else float(param)


@pytest.mark.parametrize("name", ALL_CORRUPTIONS)
def test_torch_tables_equal_the_make_cifar_c_transcription(name):
    _require(name)
    ours = CORRUPTIONS[name].params["cifar10-c"]
    theirs = ref_cifar.TABLES[name]
    if name == "elastic_transform":  # a dataclass on our side: (alpha, sigma, affine) in px
        ours = [(p.alpha, p.sigma, p.affine) for p in ours]
    elif name == "zoom_blur":  # a dataclass on our side: np.arange(1, stop, step)
        from evaluator.corruptions.blur import zoom_factors

        ours = [tuple(round(z, 6) for z in zoom_factors(p)) for p in ours]
        theirs = [tuple(round(float(z), 6) for z in t) for t in theirs]
    if any(dataclasses.is_dataclass(p) for p in ours):
        pytest.skip(f"{name}: structured parameters, compared by the fidelity test only")
    for severity, (a, b) in enumerate(zip(ours, theirs, strict=True), start=1):
        assert _plain(a) == pytest.approx(_plain(b)), f"{name} severity {severity}"
