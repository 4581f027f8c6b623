"""``rzoo models`` through typer's CliRunner and once as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from zoo import list_models
from zoo.cli import app

runner = CliRunner()


def test_models_list_json_lists_every_entry() -> None:
    result = runner.invoke(app, ["models", "list", "--json"])
    assert result.exit_code == 0, result.output
    names = [e["name"] for e in json.loads(result.stdout)]
    assert names == list_models()


def test_models_list_table_shows_metrics() -> None:
    result = runner.invoke(app, ["models", "list"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    row = next(line for line in result.stdout.splitlines() if "resnet50.tv_in1k" in line)
    assert "76.1" in row and "76.7" in row and "25.6M" in row and "hub" in row and "r50" in row
    prime = next(line for line in result.stdout.splitlines() if "resnet50.prime_in1k" in line)
    assert "57.5" in prime and "source" in prime


@pytest.mark.parametrize("columns", [80, 120, 160])
def test_models_list_fits_the_terminal_and_keeps_names_whole(columns: int) -> None:
    result = runner.invoke(app, ["models", "list"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0
    assert max(len(line) for line in result.stdout.splitlines()) <= columns
    for name in list_models():  # every name on one line, unbroken, so it can be copied
        assert any(name in line for line in result.stdout.splitlines()), name


def test_models_list_wide_adds_architecture_and_recipe() -> None:
    result = runner.invoke(app, ["models", "list", "--wide", "--include", "swin_t"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "swin_tiny_patch4_window7_224 " in result.stdout and "AdamW" in result.stdout
    assert "resnet50" not in result.stdout


def test_models_info_table_fits_80_columns() -> None:
    result = runner.invoke(app, ["models", "info", "augmix"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert "provenance.source.layout" in result.stdout and "torchvision_resnet" in result.stdout


def test_models_info_alias_json() -> None:
    result = runner.invoke(app, ["models", "info", "swin_t", "--json"])
    assert result.exit_code == 0
    info = json.loads(result.stdout)
    assert info["architecture"] == "swin_tiny_patch4_window7_224"
    assert info["data_config"]["interpolation"] == "bicubic"


def test_unknown_model_is_one_clear_line_and_nonzero_exit() -> None:
    result = runner.invoke(app, ["models", "info", "resnet5O.tv_in1k"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: unknown model") and "resnet50.tv_in1k" in lines[0]


def test_real_subprocess_help_and_list() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "zoo.cli", "models", "list", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout)
    bad = subprocess.run(
        [sys.executable, "-m", "zoo.cli", "models", "info", "nope"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1 and bad.stderr.startswith("error: unknown model 'nope'")


def test_help_answers_fast_in_a_real_subprocess() -> None:
    """`rzoo --help` must not import torch & co (best of 3, generous bound for a busy machine)."""
    import time

    timings = []
    for _ in range(3):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "zoo.cli", "--help"], capture_output=True, text=True)
        timings.append(time.perf_counter() - start)
        assert done.returncode == 0 and "fetch" in done.stdout and "models" in done.stdout
    assert min(timings) < 1.5, timings
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, zoo.cli; print(sorted(m for m in ('torch', 'timm', 'huggingface_hub') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "[]"
