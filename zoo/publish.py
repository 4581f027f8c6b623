"""Publish weights to the Hugging Face Hub: a loadable folder, its model card, one atomic commit.

The published folder is what ``timm.create_model("hf-hub:ORG/NAME", pretrained=True)`` loads for
classifiers (``config.json`` with architecture, num_classes and pretrained_cfg; ``model.safetensors``)
plus ``README.md`` (the card), ``robustness_vs_severity.png`` and ``eval/<task>.json`` (the results the
card's model-index cites). Detection / segmentation runs publish the same kind of folder (their
``config.json`` carries ``rzoo_head``) and load with rzoo.

Uploads go through huggingface_hub: ``create_repo(exist_ok=True)`` then ONE ``create_commit`` with
every file of the folder, on top of the head read beforehand (``parent_commit``): the remote is either
fully updated or untouched, and a re-run with nothing changed creates no commit. (``upload_folder``
with hf_xet installed may split a folder into several commits; ``create_commit`` never does.)
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluator.results import EvalResult, atomic_write_text
from zoo._hub import sha256_file
from zoo.errors import HubError, InvalidInputError

WEIGHTS_FILENAME = "model.safetensors"
CONFIG_FILENAME = "config.json"
RECIPE_FILENAMES = ("recipe.json", "resolved_recipe.json")
RUN_FILENAME = "run.json"  # what fine-tuning records about the run (backbone, world size, versions)
CARD_FILENAME = "README.md"
EVAL_FOLDER = "eval"
REQUIRED_PRETRAINED_CFG = ("input_size", "crop_pct", "interpolation", "mean", "std")
TASKS_OF_KIND = {
    "classification": ("cifar10-c", "imagenet-c"),
    "detection": ("coco-c",),
    "segmentation": ("ade20k-c",),
}
KIND_OF_TASK = {task: kind for kind, tasks in TASKS_OF_KIND.items() for task in tasks}


# ---- the run folder written by fine-tuning ---------------------------------------------------------
@dataclass(frozen=True)
class RunFolder:
    """A fine-tuning run: ``config.json`` + ``model.safetensors`` (+ the resolved recipe JSON)."""

    path: Path
    config: Mapping[str, Any]
    weights_path: Path
    recipe: Mapping[str, Any] | None
    run_info: Mapping[str, Any] | None = None

    @property
    def architecture(self) -> str:
        return str(self.config["architecture"])

    @property
    def is_dense(self) -> bool:
        return "rzoo_head" in self.config

    @property
    def backbone_name(self) -> str | None:
        """The zoo weights the run started from, when config.json, run.json or the recipe names them
        (a classifier's ``rzoo.base_model``, a dense config's ``backbone.source``, run.json's ``backbone``)."""
        sources = (self.config.get("rzoo") or {}, self.config, self.run_info or {}, self.recipe or {})
        for source in sources:
            for key in ("base_model", "backbone", "weights"):
                value = source.get(key)
                if isinstance(value, Mapping):
                    value = value.get("source") or value.get("name")
                if isinstance(value, str) and value:
                    return value
        return None

    @classmethod
    def load(cls, path: str | Path) -> RunFolder:
        root = Path(path)
        if not root.is_dir():
            raise InvalidInputError(f"no such run folder: {root}")
        config = _read_json(root / CONFIG_FILENAME, "run config")
        if not isinstance(config.get("architecture"), str):
            raise InvalidInputError(f"{root / CONFIG_FILENAME}: no 'architecture'")
        weights = root / WEIGHTS_FILENAME
        if not weights.is_file():
            raise InvalidInputError(f"{root}: no {WEIGHTS_FILENAME} (publish needs safetensors weights)")
        recipe = None
        for name in RECIPE_FILENAMES:
            if (root / name).is_file():
                recipe = _read_json(root / name, "recipe")
                break
        embedded = (config.get("rzoo") or {}).get("recipe")
        if recipe is None and isinstance(embedded, Mapping):
            recipe = dict(embedded)
        run_info = _read_json(root / RUN_FILENAME, "run info") if (root / RUN_FILENAME).is_file() else None
        return cls(path=root, config=config, weights_path=weights, recipe=recipe, run_info=run_info)


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as err:
        raise InvalidInputError(f"no {what} at {path}") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InvalidInputError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, dict):
        raise InvalidInputError(f"{path}: expected a JSON object")
    return data


def model_kind(run: RunFolder, results: Sequence[EvalResult]) -> str:
    """classification, detection or segmentation: from the head in config.json, else from results."""
    if not run.is_dense:
        return "classification"
    head = json.dumps(run.config["rzoo_head"]).lower()
    if any(k in head for k in ("segment", "upernet", "ade20k")):
        return "segmentation"
    if any(k in head for k in ("detect", "rcnn", "coco", "retina", "fpn")):
        return "detection"
    kinds = {KIND_OF_TASK[r.task] for r in results} - {"classification"}
    if len(kinds) == 1:
        return kinds.pop()
    raise InvalidInputError("cannot tell whether the run is a detector or a segmenter from config.json")


# ---- checks --------------------------------------------------------------------------------------
def load_results(paths: Sequence[str | Path]) -> list[EvalResult]:
    """Load results files (one per task), refusing duplicates of a task."""
    results = [EvalResult.load(p) for p in paths]
    seen: dict[str, Path] = {}
    for path, result in zip(paths, results, strict=True):
        if result.task in seen:
            raise InvalidInputError(f"two results files for {result.task}: {seen[result.task]} and {path}")
        seen[result.task] = Path(path)
    return results


def check_results_match(results: Sequence[EvalResult], kind: str, weights_sha256: str) -> None:
    """Results must be for this kind of model and, when they name a checkpoint digest, this one."""
    for result in results:
        if result.task not in TASKS_OF_KIND[kind]:
            raise InvalidInputError(f"results for {result.task} cannot be published with a {kind} model")
        digest = result.checkpoint.sha256
        # an ONNX export has its own digest; every other source is the safetensors file itself
        if digest is not None and result.checkpoint.source != "onnx" and digest != weights_sha256:
            raise InvalidInputError(
                f"results for {result.task} were computed on checkpoint sha256 {digest[:12]}…, "
                f"not on these weights ({weights_sha256[:12]}…)"
            )


def timm_config(config: Mapping[str, Any], data_config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A copy of a classifier's config.json that timm's hf-hub loader accepts, with the preprocessing
    (mean, std, input_size, crop_pct, interpolation) filled from ``data_config`` where missing."""
    out = json.loads(json.dumps(config))
    if not isinstance(out.get("num_classes"), int):
        raise InvalidInputError("config.json: 'num_classes' must be an integer")
    cfg = out.setdefault("pretrained_cfg", {})
    for key in REQUIRED_PRETRAINED_CFG:
        if cfg.get(key) is None and data_config and data_config.get(key) is not None:
            value = data_config[key]
            cfg[key] = list(value) if isinstance(value, tuple) else value
    missing = [k for k in REQUIRED_PRETRAINED_CFG if cfg.get(k) is None]
    if missing:
        raise InvalidInputError(f"config.json: pretrained_cfg lacks {', '.join(missing)}")
    cfg["num_classes"] = out["num_classes"]
    return out


def verify_dense_loadable(folder: Path) -> None:
    """Rebuild the detector / segmenter from config.json and load its weights strictly (rzoo's loader)."""
    from zoo.dense import load_dense_model

    load_dense_model(folder)


def verify_timm_loadable(config: Mapping[str, Any], weights: Path) -> None:
    """Build the timm model the Hub folder describes and load the weights strictly (fails early, locally,
    rather than for every user after the upload)."""
    import safetensors.torch
    import timm

    try:
        kwargs = {**config.get("model_args", {}), "num_classes": config["num_classes"]}
        model = timm.create_model(config["architecture"], pretrained=False, **kwargs)
        model.load_state_dict(safetensors.torch.load_file(str(weights)), strict=True)
    except (RuntimeError, ValueError, KeyError, TypeError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InvalidInputError(
            f"{weights} does not load into timm's {config['architecture']}: {first_line}"
        ) from err


# ---- the folder --------------------------------------------------------------------------------------
def write_folder_atomically(out: Path, build: Any) -> Path:
    """Call ``build(tmp_dir)`` then move the result to ``out``. An existing ``out`` is replaced only if it
    is a previous publish folder; a failed build leaves ``out`` as it was."""
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / CARD_FILENAME).is_file():
        raise InvalidInputError(f"{out} exists and is not a publish folder; choose an empty or new folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        build(tmp)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            out.rename(old / "previous")
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def write_json(path: Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2) + "\n")


def copy_results(results: Sequence[EvalResult], folder: Path) -> list[str]:
    """Write each result as ``eval/<task>.json``; returns the paths in the repo."""
    paths = []
    for result in results:
        rel = f"{EVAL_FOLDER}/{result.task}.json"
        result.save(folder / rel)
        paths.append(rel)
    return paths


# ---- upload --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UploadOutcome:
    repo_id: str
    commit_sha: str
    changed: bool  # False: the remote already held exactly these files, no commit was made
    url: str
    weights_sha256: str | None


def upload_folder(
    folder: str | Path,
    repo_id: str,
    *,
    commit_message: str,
    commit_description: str = "",
    private: bool = False,
    token: str | None = None,
    managed_prefixes: Sequence[str] = (f"{EVAL_FOLDER}/",),
) -> UploadOutcome:
    """Create the repo if needed and commit the whole folder in ONE commit.

    Remote files under ``managed_prefixes`` that the folder no longer has are deleted in that commit;
    other remote files are left alone. The token comes from ``token``, else huggingface_hub's standard
    places (``HF_TOKEN``, the token stored by ``hf auth login``).
    """
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise InvalidInputError(f"{folder} holds no files to upload")
    api = HfApi(token=token)
    with hub_errors(repo_id, api.endpoint):
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        head = api.repo_info(repo_id, repo_type="model").sha
        remote = set(api.list_repo_files(repo_id, revision=head)) if head else set()
        local = {p.relative_to(folder).as_posix() for p in files}
        operations: list[Any] = [
            CommitOperationAdd(path_in_repo=p.relative_to(folder).as_posix(), path_or_fileobj=str(p))
            for p in files
        ]
        operations += [
            CommitOperationDelete(path_in_repo=path)
            for path in sorted(remote - local)
            if any(path.startswith(prefix) for prefix in managed_prefixes)
        ]
        info = api.create_commit(
            repo_id,
            operations=operations,
            commit_message=commit_message,
            commit_description=commit_description,
            repo_type="model",
            parent_commit=head,
        )
    weights = folder / WEIGHTS_FILENAME
    return UploadOutcome(
        repo_id=repo_id,
        commit_sha=info.oid,
        changed=info.oid != head,
        url=f"{api.endpoint}/{repo_id}",
        weights_sha256=sha256_file(weights) if weights.is_file() else None,
    )


class hub_errors:
    """Turn huggingface_hub / network failures into one-line :class:`HubError` messages."""

    def __init__(self, repo_id: str, endpoint: str) -> None:
        self.repo_id = repo_id
        self.endpoint = endpoint

    def __enter__(self) -> hub_errors:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None:
            return False
        message = hub_error_message(exc, self.repo_id, self.endpoint)
        if message is None:
            return False
        raise HubError(message) from exc


def hub_error_message(exc: BaseException, repo_id: str, endpoint: str) -> str | None:
    """One clear line for the failures users cause or meet; ``None`` for bugs (keep the traceback)."""
    import httpx2  # huggingface_hub 2.x's HTTP client
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    unchanged = "; the remote repo is unchanged"
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        status = exc.response.status_code
        server = exc.server_message.strip().splitlines()[0] if exc.server_message else ""
        if status == 401:
            return (
                f"not authenticated to {endpoint} ({server or 'invalid or missing token'}): set HF_TOKEN "
                f"or run `hf auth login` with a write token{unchanged}"
            )
        if status == 403:
            return (
                f"permission denied: your token cannot write to {repo_id} on {endpoint} "
                f"({server or 'forbidden'}); use a write token with access to "
                f"'{repo_id.split('/')[0]}'{unchanged}"
            )
        if status == 412:
            return f"{repo_id} changed on the Hub while uploading; re-run to publish on top of it{unchanged}"
        return f"the Hub refused the upload to {repo_id} (HTTP {status}: {server or exc}){unchanged}"
    if isinstance(exc, OfflineModeIsEnabled):
        return f"HF_HUB_OFFLINE is set: unset it to publish to {endpoint}{unchanged}"
    if isinstance(exc, httpx2.TransportError | ConnectionError | TimeoutError):
        return f"cannot reach the Hub at {endpoint} ({type(exc).__name__}: {exc}){unchanged}"
    if isinstance(exc, ValueError) and "Invalid metadata in README.md" in str(exc):
        return f"the Hub rejected the model card metadata: {str(exc).splitlines()[-1]}{unchanged}"
    return None


# ---- publishing a fine-tuning run ---------------------------------------------------------------------
@dataclass(frozen=True)
class PublishOutcome:
    repo_id: str
    weights_sha256: str
    folder: Path | None  # the dry-run folder (None after an upload: it was built in a temp folder)
    upload: UploadOutcome | None  # None for a dry run


def num_params_of(weights: Path) -> int:
    """Parameter count from the safetensors header (no tensor is read)."""
    from safetensors import safe_open

    total = 0
    with safe_open(str(weights), framework="np") as fh:
        for key in fh.keys():  # noqa: SIM118 (safe_open is not a mapping)
            count = 1
            for dim in fh.get_slice(key).get_shape():
                count *= dim
            total += count
    return total


def build_run_folder(
    run: RunFolder,
    results: Sequence[EvalResult],
    repo_id: str,
    out: Path,
    *,
    backbone: str | None = None,
    endpoint: str | None = None,
) -> Path:
    """Write the publish folder for a fine-tuning run (weights, config, card, plot, results) to ``out``."""
    from cards import PLOT_FILENAME, TASKS, CardSpec, plot_robustness, write_card

    _check_repo_id(repo_id)
    weights_sha256 = sha256_file(run.weights_path)
    kind = model_kind(run, results)
    check_results_match(results, kind, weights_sha256)
    backbone = backbone or run.backbone_name or _results_base_model(results)
    upstream = _upstream(backbone)
    data_config = upstream.data_config.to_timm() if upstream is not None else None
    if kind == "classification":
        config = timm_config(run.config, data_config)
        verify_timm_loadable(config, run.weights_path)
    else:
        config = json.loads(json.dumps(run.config))
        verify_dense_loadable(run.path)
    train_datasets = ["imagenet-1k", *(TASKS[r.task].upstream_dataset for r in results)]
    preprocessing = config.get("pretrained_cfg") or config.get("data_config") or data_config

    def build(tmp: Path) -> None:
        shutil.copyfile(run.weights_path, tmp / WEIGHTS_FILENAME)
        write_json(tmp / CONFIG_FILENAME, config)
        if run.recipe is not None:
            write_json(tmp / RECIPE_FILENAMES[0], run.recipe)
        results_paths = copy_results(results, tmp)
        plot = plot_robustness(results, tmp / PLOT_FILENAME)
        spec = CardSpec(
            repo_id=repo_id,
            architecture=run.architecture,
            kind=kind,
            num_classes=config.get("num_classes"),
            num_params=num_params_of(run.weights_path),
            license=upstream.provenance.license if upstream is not None else None,
            base_model=_base_model(backbone, upstream),
            train_datasets=tuple(dict.fromkeys(train_datasets)),
            provenance=upstream.provenance if upstream is not None else None,
            reference_metrics=upstream.metrics if upstream is not None else None,
            recipe=run.recipe,
            preprocessing=_preprocessing(preprocessing),
            results=tuple(results),
            results_paths=tuple(results_paths),
            plot_filename=PLOT_FILENAME if plot is not None else None,
            checkpoint_sha256=weights_sha256,
            **({"endpoint": endpoint} if endpoint else {}),
        )
        write_card(spec, tmp)

    return write_folder_atomically(out, build)


def publish_run(
    run_dir: str | Path,
    repo_id: str,
    results_paths: Sequence[str | Path] = (),
    *,
    private: bool = False,
    dry_run: str | Path | None = None,
    backbone: str | None = None,
    token: str | None = None,
) -> PublishOutcome:
    """Build the folder for ``run_dir`` and (unless ``dry_run``) commit it to ``repo_id`` in one commit."""
    from zoo import __version__

    run = RunFolder.load(run_dir)
    results = load_results(results_paths)
    if dry_run is not None:
        folder = build_run_folder(run, results, repo_id, Path(dry_run), backbone=backbone)
        return PublishOutcome(repo_id, sha256_file(folder / WEIGHTS_FILENAME), folder, None)
    with tempfile.TemporaryDirectory(prefix="rzoo-publish-") as tmp:
        folder = build_run_folder(run, results, repo_id, Path(tmp) / "folder", backbone=backbone)
        tasks = ", ".join(r.task for r in results) or "no evaluation results"
        weights_sha256 = sha256_file(folder / WEIGHTS_FILENAME)
        outcome = upload_folder(
            folder,
            repo_id,
            commit_message=f"Publish {repo_id.split('/')[-1]}: weights, model card, {tasks} (rzoo {__version__})",
            commit_description=_commit_description(run.path, weights_sha256, results),
            private=private,
            token=token,
        )
        return PublishOutcome(repo_id, weights_sha256, None, outcome)


def _commit_description(source: Path, weights_sha256: str, results: Sequence[EvalResult]) -> str:
    lines = [f"Weights: {WEIGHTS_FILENAME} sha256 {weights_sha256}", f"From: {source.name}"]
    lines += [f"Results: {EVAL_FOLDER}/{r.task}.json ({r.num_images} images)" for r in results]
    return "\n".join(lines)


def _check_repo_id(repo_id: str) -> None:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        raise InvalidInputError(f"invalid --repo-id {repo_id!r}: {str(err).splitlines()[0]}") from err
    if repo_id.count("/") != 1:
        raise InvalidInputError(f"invalid --repo-id {repo_id!r}: expected ORG/NAME")


def _results_base_model(results: Sequence[EvalResult]) -> str | None:
    names = {r.checkpoint.base_model for r in results if r.checkpoint.base_model}
    return names.pop() if len(names) == 1 else None


def _upstream(name: str | None) -> Any:
    from zoo import get_weights, is_registered

    if name and is_registered(name):
        return get_weights(name)
    return None


def _base_model(name: str | None, upstream: Any) -> str | None:
    """The upstream Hub repo: the zoo entry's, or an ``[hf-hub:]ORG/NAME[@REV]`` given directly."""
    if upstream is not None:
        return upstream.hub.repo_id
    if name:
        repo = name.removeprefix("hf-hub:").split("@", 1)[0]
        if repo.count("/") == 1:
            return repo
    return None


def _preprocessing(cfg: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not cfg:
        return None
    keys = (*REQUIRED_PRETRAINED_CFG, "crop_mode")
    return {k: cfg[k] for k in keys if cfg.get(k) is not None}
