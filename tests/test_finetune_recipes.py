"""Recipes reproduce the authors' settings, overrides are typed, schedules follow mmcv, and the
``rzoo finetune`` command resolves, refuses and resumes as documented."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from zoo.cli import app
from zoo.errors import InvalidInputError, UnknownNameError
from zoo.finetune.api import resolve_recipe
from zoo.finetune.recipes import Recipe, apply_overrides, paper_recipe, parse_overrides
from zoo.finetune.schedule import lr_factor

runner = CliRunner()


def test_paper_presets_match_the_authors_configs():
    r50_coco = resolve_recipe("resnet50.augmix_in1k", "coco", "full")
    assert (r50_coco.family, r50_coco.optimizer, r50_coco.lr, r50_coco.weight_decay) == (
        "resnet",
        "sgd",
        0.04,
        1e-4,
    )
    assert (r50_coco.epochs, r50_coco.milestones, r50_coco.warmup_iters) == (24, (16, 22), 500)
    assert (r50_coco.frozen_stages, r50_coco.norm_eval, r50_coco.min_size, r50_coco.max_size) == (
        1,
        True,
        800,
        1333,
    )
    swin_coco = resolve_recipe("swin_t", "coco", "full")
    assert (swin_coco.optimizer, swin_coco.lr, swin_coco.weight_decay, swin_coco.drop_path) == (
        "adamw",
        1e-4,
        0.05,
        0.2,
    )
    assert swin_coco.amp and swin_coco.train_min_sizes[0] == 480 and swin_coco.train_min_sizes[-1] == 800
    r50_ade = resolve_recipe("resnet50.tv_in1k", "ade20k", "full")
    assert (r50_ade.iters, r50_ade.crop_size, r50_ade.lr, r50_ade.weight_decay) == (80_000, 512, 0.01, 5e-4)
    assert (r50_ade.schedule, r50_ade.poly_power) == ("poly", 0.9)
    swin_ade = resolve_recipe("swin_t", "ade20k", "fixed")
    assert (swin_ade.lr, swin_ade.weight_decay, swin_ade.warmup_iters, swin_ade.drop_path) == (
        6e-5,
        0.01,
        1500,
        0.3,
    )
    assert swin_ade.effective_frozen_stages == 4
    cifar = resolve_recipe("resnet50.tv_in1k", "cifar10", "full")
    assert (cifar.epochs, cifar.lr, cifar.step_size, cifar.batch_size, cifar.weight_decay) == (
        150,
        0.01,
        30,
        64,
        5e-4,
    )
    assert cifar.image_size == 224


def test_overrides_are_parsed_to_the_field_types():
    recipe = paper_recipe("coco", "resnet")
    items = ["lr=0.001", "milestones=8,11", "iters=100", "grad_clip=none", "amp=true", "optimizer=adamw"]
    new = apply_overrides(recipe, parse_overrides(items))
    assert (new.lr, new.milestones, new.iters, new.epochs, new.grad_clip, new.amp) == (
        0.001, (8, 11), 100, None, None, True,
    )  # fmt: skip
    assert Recipe.from_json(new.to_json()) == new
    with pytest.raises(UnknownNameError, match="did you mean 'lr'"):
        apply_overrides(recipe, {"lrr": "1"})
    with pytest.raises(InvalidInputError, match="optimizer must be one of"):
        apply_overrides(recipe, {"optimizer": "lion"})
    with pytest.raises(InvalidInputError, match="cannot parse 'fast' as float"):
        apply_overrides(recipe, {"lr": "fast"})
    with pytest.raises(InvalidInputError, match="not divisible by accumulation_steps"):
        apply_overrides(recipe, {"batch_size": "16", "accumulation_steps": "3"})


def test_schedules_follow_mmcv():
    coco = paper_recipe("coco", "resnet")  # 500 linear warmup iters from 0.001 x lr, steps at 16 and 22
    spe, total = 100, 2400
    assert lr_factor(coco, 0, spe, total) == pytest.approx(0.001)
    assert lr_factor(coco, 250, spe, total) == pytest.approx(0.5005)
    assert lr_factor(coco, 500, spe, total) == 1.0
    assert lr_factor(coco, 16 * spe - 1, spe, total) == 1.0
    assert lr_factor(coco, 16 * spe, spe, total) == pytest.approx(0.1)
    assert lr_factor(coco, 22 * spe, spe, total) == pytest.approx(0.01)
    ade = paper_recipe("ade20k", "resnet")  # poly 0.9 from 0.01 down to 1e-4
    assert lr_factor(ade, 0, 1, 80_000) == 1.0
    assert ade.lr * lr_factor(ade, 80_000, 1, 80_000) == pytest.approx(1e-4)
    assert ade.lr * lr_factor(ade, 40_000, 1, 80_000) == pytest.approx((0.01 - 1e-4) * 0.5**0.9 + 1e-4)
    cifar = paper_recipe("cifar10", "resnet")
    assert [lr_factor(cifar, e * 10, 10, 1500) for e in (29, 30, 60)] == pytest.approx([1.0, 0.1, 0.01])


def test_cli_shows_the_resolved_recipe_and_reports_bad_options():
    shown = runner.invoke(
        app,
        ["finetune", "swin_t", "--task", "ade20k", "--show-recipe", "--set", "lr=1e-4", "--batch-size", "8"],
    )
    assert shown.exit_code == 0, shown.output
    recipe = json.loads(shown.stdout)
    assert (recipe["family"], recipe["lr"], recipe["batch_size"], recipe["warmup_iters"]) == (
        "swin",
        1e-4,
        8,
        1500,
    )
    bad = runner.invoke(app, ["finetune", "swin_t", "--task", "ade20k", "--set", "warmup=3", "--out", "x"])
    assert bad.exit_code == 1 and "error: unknown recipe field 'warmup'" in bad.output
    bad_task = runner.invoke(app, ["finetune", "swin_t", "--task", "imagenet", "--out", "x"])
    assert bad_task.exit_code == 1 and "unknown task 'imagenet'" in bad_task.output


def test_cli_refuses_to_overwrite_a_run_or_change_a_resumed_recipe(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "recipe.json").write_text(paper_recipe("cifar10", "other").to_json())
    (run / "run.json").write_text(json.dumps({"backbone": "test_convnext"}))
    again = runner.invoke(
        app, ["finetune", "test_convnext", "--task", "cifar10", "--out", str(run), "--scratch"]
    )
    assert again.exit_code == 1 and "already holds a run" in again.output
    changed = runner.invoke(app, ["finetune", "test_convnext", "--resume", str(run), "--lr", "0.5"])
    assert changed.exit_code == 1 and "keeps its recipe; lr differ" in changed.output
    other = runner.invoke(app, ["finetune", "resnet50", "--resume", str(run), "--lr", "0.01"])
    assert other.exit_code == 1 and "fine-tunes 'test_convnext', not 'resnet50'" in other.output
