"""``rzoo publish`` against the local Hub: one atomic commit, idempotent, loadable by plain timm."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import ModelCard
from typer.testing import CliRunner

from cards import summarize_results, summary_from_hub_eval_results
from evaluator.results import EvalResult
from tests._publish_data import make_result, write_classifier_run
from tests.hub_server import HubResponse, LocalHub, Route, handle_preupload
from zoo._hub import sha256_file
from zoo.cli import app

REPO = "rzoo-test/test_resnet.ft_cifar10"

FRESH_PROCESS_LOAD = """
import sys, numpy, timm, torch
model = timm.create_model("hf-hub:{repo}", pretrained=True).eval()
torch.manual_seed(0)
x = torch.randn(2, 3, 32, 32)
with torch.inference_mode():
    numpy.save(sys.argv[1], model(x).numpy())
print(timm.data.resolve_data_config({{}}, model=model))
"""


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return write_classifier_run(tmp_path / "run")


@pytest.fixture
def results_file(tmp_path: Path, run_dir: Path) -> Path:
    return make_result("cifar10-c", sha256=sha256_file(run_dir / "model.safetensors")).save(
        tmp_path / "c10.json"
    )


@pytest.fixture
def hub(local_hub: LocalHub, monkeypatch: pytest.MonkeyPatch) -> LocalHub:
    monkeypatch.setenv("HF_TOKEN", local_hub.add_token("hf_writer"))
    return local_hub


def _publish(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["publish", *map(str, args)])
    return result.exit_code, result.output


def _local_logits(run_dir: Path):
    import safetensors.torch
    import timm
    import torch

    config = json.loads((run_dir / "config.json").read_text())
    model = timm.create_model(config["architecture"], num_classes=config["num_classes"]).eval()
    model.load_state_dict(safetensors.torch.load_file(str(run_dir / "model.safetensors")))
    torch.manual_seed(0)
    x = torch.randn(2, 3, 32, 32)
    with torch.inference_mode():
        return model(x).numpy()


def _head(hub: LocalHub):
    return hub.store.get(REPO).head()


def test_published_repo_loads_in_a_fresh_process_with_plain_timm(
    hub: LocalHub, run_dir: Path, results_file: Path, tmp_path: Path
) -> None:
    import numpy as np

    code, out = _publish(run_dir, "--repo-id", REPO, "--results", results_file)
    assert code == 0, out
    head = _head(hub)
    assert f"published {REPO} at commit {head.sha}" in out
    assert len(hub.store.get(REPO).commits) == 2  # the initial commit + ONE commit for the whole folder
    assert set(head.files) == {
        ".gitattributes",
        "README.md",
        "config.json",
        "model.safetensors",
        "recipe.json",
        "robustness_vs_severity.png",
        "eval/cifar10-c.json",
    }
    assert head.files["model.safetensors"].lfs  # went through the LFS batch API
    assert head.files["model.safetensors"].data == (run_dir / "model.safetensors").read_bytes()

    # A fresh interpreter, an empty cache, only HF_ENDPOINT pointing at the server: plain timm.
    cache = tmp_path / "fresh-cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env.update(HF_ENDPOINT=hub.endpoint, HF_HOME=str(tmp_path / "fresh-home"), HF_HUB_CACHE=str(cache))
    hub.requests.clear()
    proc = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS_LOAD.format(repo=REPO), str(tmp_path / "logits.npy")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert any(p.endswith("/model.safetensors") for p in hub.downloads())  # really fetched from the server
    assert np.array_equal(np.load(tmp_path / "logits.npy"), _local_logits(run_dir))
    assert "'input_size': (3, 32, 32)" in proc.stdout and "'crop_pct': 1.0" in proc.stdout

    # rzoo's loader (the card's other usage line) gets the same network and names the same weights.
    import torch

    import zoo

    loaded = zoo.load_checkpoint(f"hf-hub:{REPO}")
    torch.manual_seed(0)
    with torch.inference_mode():
        assert np.array_equal(loaded.model(torch.randn(2, 3, 32, 32)).numpy(), _local_logits(run_dir))
    assert loaded.identity.sha256 == sha256_file(run_dir / "model.safetensors")
    assert loaded.identity.revision == head.sha

    # The card parses with huggingface_hub and its model-index equals the results file.
    card = ModelCard.load(REPO)
    assert summary_from_hub_eval_results(card.data.eval_results) == summarize_results(
        [EvalResult.load(results_file)]
    )
    assert card.data.base_model == "timm/resnet50.tv_in1k"  # config.json's rzoo.base_model


def test_rerun_is_idempotent_and_updates_are_one_commit(
    hub: LocalHub, run_dir: Path, results_file: Path, tmp_path: Path
) -> None:
    assert _publish(run_dir, "--repo-id", REPO, "--results", results_file, "--private")[0] == 0
    assert hub.store.get(REPO).private
    first = _head(hub)
    hub.requests.clear()
    code, out = _publish(run_dir, "--repo-id", REPO, "--results", results_file)
    assert code == 0, out
    assert "already up to date" in out and first.sha in out
    assert _head(hub).sha == first.sha and len(hub.store.get(REPO).commits) == 2
    assert not any(method == "PUT" for method, _ in hub.requests)  # nothing uploaded again

    # New results replace the old ones in one commit: the CIFAR-10-C file goes, ImageNet-C arrives.
    imagenet = make_result("imagenet-c", sha256=sha256_file(run_dir / "model.safetensors"))
    code, out = _publish(run_dir, "--repo-id", REPO, "--results", imagenet.save(tmp_path / "in.json"))
    assert code == 0, out
    head = _head(hub)
    assert head.parent == first.sha and len(hub.store.get(REPO).commits) == 3
    assert "eval/imagenet-c.json" in head.files and "eval/cifar10-c.json" not in head.files
    assert head.files["model.safetensors"] == first.files["model.safetensors"]


@pytest.mark.parametrize(
    "token, expected",
    [(None, "not authenticated"), ("hf_reader", "permission denied: your token cannot write")],
)
def test_auth_failures_are_one_line_and_leave_the_remote_untouched(
    hub: LocalHub,
    run_dir: Path,
    results_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    token: str | None,
    expected: str,
) -> None:
    before = hub.add_repo(REPO, {"README.md": "old card\n"})
    monkeypatch.setattr("huggingface_hub.constants.HF_TOKEN_PATH", str(tmp_path / "no-token"))
    if token is None:
        monkeypatch.delenv("HF_TOKEN")
    else:
        hub.add_token(token)
        hub.store.read_only_tokens.add(token)
        monkeypatch.setenv("HF_TOKEN", token)
    code, out = _publish(run_dir, "--repo-id", REPO, "--results", results_file)
    assert code == 1
    lines = out.strip().splitlines()
    assert lines[-1].startswith("error: ") and expected in lines[-1]
    assert "remote repo is unchanged" in lines[-1]
    assert _head(hub).sha == before and set(_head(hub).files) == {".gitattributes", "README.md"}


def test_commit_failing_midway_leaves_the_remote_untouched_and_a_rerun_completes(
    hub: LocalHub, run_dir: Path, results_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The token from huggingface_hub's token store rather than HF_TOKEN.
    token_path = tmp_path / "token"
    token_path.write_text(os.environ.pop("HF_TOKEN"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_TOKEN_PATH", str(token_path))

    before = hub.add_repo(REPO, {"README.md": "old card\n"})
    failing = Route.of(
        "POST", r"^/api/models/.+/commit/", lambda *a, **k: HubResponse.error(500, "storage backend down")
    )
    hub.routes.insert(0, failing)
    code, out = _publish(run_dir, "--repo-id", REPO, "--results", results_file)
    assert code == 1 and "HTTP 500" in out and "remote repo is unchanged" in out
    weights_sha = sha256_file(run_dir / "model.safetensors")
    assert weights_sha in hub.store.lfs_objects  # the weights were uploaded before the commit failed
    assert _head(hub).sha == before and set(_head(hub).files) == {".gitattributes", "README.md"}

    hub.routes.remove(failing)
    hub.requests.clear()
    code, out = _publish(run_dir, "--repo-id", REPO, "--results", results_file)
    assert code == 0, out
    assert not any(method == "PUT" for method, _ in hub.requests)  # the LFS object was already there
    assert _head(hub).files["README.md"].data.startswith(b"---\n")


def test_dry_run_writes_the_folder_only(
    hub: LocalHub, run_dir: Path, results_file: Path, tmp_path: Path
) -> None:
    out_dir = tmp_path / "out"
    code, out = _publish(run_dir, "--repo-id", REPO, "--results", results_file, "--dry-run", out_dir)
    assert code == 0, out
    assert hub.requests == [] and hub.store.get(REPO) is None
    config = json.loads((out_dir / "config.json").read_text())
    assert config["architecture"] == "test_resnet" and config["num_classes"] == 10
    assert {"mean", "std", "input_size", "crop_pct", "interpolation"} <= set(config["pretrained_cfg"])
    card = ModelCard.load(out_dir / "README.md")
    assert card.data.eval_results[0].source_url.endswith(f"/{REPO}/blob/main/eval/cifar10-c.json")
    assert EvalResult.load(out_dir / "eval" / "cifar10-c.json") == EvalResult.load(results_file)
    # a second dry run into the same folder replaces it
    assert _publish(run_dir, "--repo-id", REPO, "--dry-run", out_dir)[0] == 0
    assert not (out_dir / "eval").exists()


def test_bad_inputs_are_refused_before_anything_is_written(run_dir: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    coco = make_result("coco-c").save(tmp_path / "coco.json")
    code, out = _publish(run_dir, "--repo-id", REPO, "--results", coco, "--dry-run", out_dir)
    assert code == 1 and "cannot be published with a classification model" in out

    other = make_result("cifar10-c", sha256="0" * 64).save(tmp_path / "other.json")
    code, out = _publish(run_dir, "--repo-id", REPO, "--results", other, "--dry-run", out_dir)
    assert code == 1 and "not on these weights" in out

    config = json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps({**config, "num_classes": 7, "model_args": {}}))
    code, out = _publish(run_dir, "--repo-id", REPO, "--dry-run", out_dir)
    assert code == 1 and "does not load into timm's test_resnet" in out

    code, out = _publish(run_dir, "--repo-id", "no-namespace", "--dry-run", out_dir)
    assert code == 1 and "expected ORG/NAME" in out
    assert not out_dir.exists()


def test_segmentation_run_publishes_a_folder_rzoo_rebuilds(hub: LocalHub, tmp_path: Path) -> None:
    import torch
    from huggingface_hub import snapshot_download

    from tests._publish_data import write_segmentation_run
    from zoo.dense import load_dense_model

    run = write_segmentation_run(tmp_path / "seg")
    results = make_result("ade20k-c", sha256=sha256_file(run / "model.safetensors")).save(
        tmp_path / "ade.json"
    )
    repo = "rzoo-test/upernet_test_resnet.ft_ade20k"
    code, out = _publish(run, "--repo-id", repo, "--results", results)
    assert code == 0, out

    card = ModelCard.load(repo)
    assert card.data.pipeline_tag == "image-segmentation" and card.data.library_name == "rzoo"
    assert summary_from_hub_eval_results(card.data.eval_results) == summarize_results(
        [EvalResult.load(results)]
    )

    downloaded, config = load_dense_model(snapshot_download(repo))  # from the server into an empty cache
    local, _ = load_dense_model(run)
    assert config.head == "upernet" and config.num_classes == 5
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(downloaded(x), local(x))


def test_a_push_racing_the_upload_is_never_overwritten(
    hub: LocalHub, run_dir: Path, results_file: Path
) -> None:
    hub.add_repo(REPO, {"README.md": "old card\n"})
    raced: list[str] = []

    def someone_pushes_meanwhile(h: LocalHub, request, **groups):
        if not raced:  # another client commits after publish read the head
            raced.append(h.store.commit(REPO, {"notes.md": "theirs\n"}, message="their commit"))
        return handle_preupload(h, request, **groups)

    hub.routes.insert(
        0,
        Route.of(
            "POST",
            r"^/api/(?P<api_type>models)/(?P<repo_id>[^/]+/[^/]+)/preupload/(?P<revision>[^/]+)$",
            someone_pushes_meanwhile,
        ),
    )
    code, out = _publish(run_dir, "--repo-id", REPO, "--results", results_file)
    assert code == 1 and "changed on the Hub while uploading; re-run" in out
    assert _head(hub).sha == raced[0] and _head(hub).files["README.md"].data == b"old card\n"
