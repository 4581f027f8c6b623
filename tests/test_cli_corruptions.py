"""``rzoo corruptions list`` and ``rzoo corrupt`` through typer's CliRunner, on a real photo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from evaluator.corruptions import CORRUPTIONS, PARAM_SETS, corrupt
from evaluator.corruptions.pictures import read_picture, tile_of
from zoo.cli import app
from zoo.cli.corruptions import PARAM_SETS as CLI_PARAM_SETS

runner = CliRunner()


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    from skimage import data

    path = tmp_path / "coffee.jpg"
    Image.fromarray(data.coffee()[::4, ::4]).save(path, quality=95)  # 100x150, a real JPEG
    return path


def _only(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_list_json_describes_every_corruption():
    result = runner.invoke(app, ["corruptions", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == list(CORRUPTIONS)
    by_name = {r["name"]: r for r in rows}
    assert by_name["speckle_noise"] == {
        "name": "speckle_noise",
        "family": "noise",
        "holdout": True,
        "random": True,
        "parameter_sets": ["imagenet-c", "cifar10-c"],
    }
    assert by_name["contrast"]["holdout"] is False and by_name["contrast"]["random"] is False
    assert tuple(CLI_PARAM_SETS) == tuple(PARAM_SETS)


def test_list_table_has_a_row_per_corruption():
    result = runner.invoke(app, ["corruptions", "list"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    assert f"{len(CORRUPTIONS)} corruptions" in result.stdout
    saturate = next(line for line in result.stdout.splitlines() if "saturate" in line)
    assert "digital" in saturate and "yes" in saturate


@pytest.mark.parametrize("backend", ["torch", "reference"])
def test_corrupt_writes_what_the_python_api_returns(photo: Path, tmp_path: Path, backend: str):
    out = tmp_path / "noise3.png"
    args = ["corrupt", str(photo), "--corruption", "gaussian_noise", "--severity", "3", "--seed", "7"]
    result = runner.invoke(app, [*args, "--backend", backend, "-o", str(out)])
    assert result.exit_code == 0, result.output
    written = np.asarray(Image.open(out))
    expected = corrupt(read_picture(photo), "gaussian_noise", 3, seed=7, backend=backend)
    assert np.array_equal(written, expected)
    other_seed = corrupt(read_picture(photo), "gaussian_noise", 3, seed=8, backend=backend)
    assert not np.array_equal(written, other_seed)


def test_corrupt_with_cifar_parameters(photo: Path, tmp_path: Path):
    out = tmp_path / "c.png"
    result = runner.invoke(
        app, ["corrupt", str(photo), "-c", "contrast", "-s", "5", "--params", "cifar10-c", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    expected = corrupt(read_picture(photo), "contrast", 5, params="cifar10-c")
    assert np.array_equal(np.asarray(Image.open(out)), expected)


def test_grid_shows_every_corruption_and_severity(photo: Path, tmp_path: Path):
    out = tmp_path / "grid.png"
    result = runner.invoke(
        app, ["corrupt", str(photo), "--grid", "--tile", "32", "--seed", "3", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    grid = np.asarray(Image.open(out))
    n = len(CORRUPTIONS)
    assert grid.shape == (24 + n * 36, 150 + 6 * 36, 3)
    tile = tile_of(read_picture(photo), 32)
    names = list(CORRUPTIONS)
    for row, col in ((0, 0), (n - 1, 5), (n // 2, 3)):
        y, x = 24 + row * 36, 150 + col * 36
        cell = grid[y : y + 32, x : x + 32]
        expected = tile if col == 0 else corrupt(tile, names[row], col, seed=3)
        assert np.array_equal(cell, expected), (names[row], col)
    assert (grid[:20, 150:] < 128).any()  # the column titles are drawn


@pytest.mark.parametrize(
    ("make", "args", "message"),
    [
        (lambda p: p.write_text("not a picture"), ["-c", "contrast"], "cannot read"),
        (None, ["-c", "contrast"], "no such picture"),
        (lambda p: Image.new("RGB", (31, 40)).save(p, "PNG"), ["-c", "contrast"], "at least 32x32"),
        ("photo", ["-c", "contrast", "-s", "0"], "severity must be an integer in 1..5"),
        ("photo", ["-c", "contrast", "-s", "6"], "severity must be an integer in 1..5"),
        ("photo", ["-c", "gausian_noise"], "did you mean 'gaussian_noise'"),
        ("photo", ["-c", "contrast", "--params", "cifar-10"], "unknown parameter set"),
        ("photo", ["-c", "contrast", "--backend", "numpy"], "unknown backend"),
        ("photo", [], "name a corruption"),
    ],
)
def test_bad_input_is_one_error_line_and_writes_nothing(photo: Path, tmp_path: Path, make, args, message):
    source = tmp_path / "in" / "picture.jpg"
    source.parent.mkdir()
    if make == "photo":
        source.write_bytes(photo.read_bytes())
    elif make is not None:
        make(source)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result = runner.invoke(app, ["corrupt", str(source), *args, "-o", str(out_dir / "x.png")])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert _only(out_dir) == []  # no output, no temporary left behind


def test_unknown_output_format_is_refused_before_any_work(photo: Path, tmp_path: Path):
    result = runner.invoke(app, ["corrupt", str(photo), "-c", "contrast", "-o", str(tmp_path / "x.gif2")])
    assert result.exit_code == 1 and "cannot write .gif2 files" in result.stderr
    assert _only(tmp_path) == ["coffee.jpg"]
