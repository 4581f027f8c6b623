"""``rzoo models`` through typer's CliRunner and once as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

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
    result = runner.invoke(app, ["models", "list"])
    assert result.exit_code == 0
    assert "resnet50.tv_in1k" in result.stdout and "76.7" in result.stdout


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
