"""The evaluation engine: shards, the overlapped input pipeline, resume and rank merging.

``evaluate(cfg)`` loads the checkpoint and calls :func:`evaluate_model`, which runs the clean pass
and every (corruption, severity) shard of ``cfg``. For each shard:

1. a finished shard in ``cfg.work_dir`` is reused when ``cfg.resume`` (see ``evaluator.shards``);
2. otherwise this rank's images of the shard (``rank, rank + world, ...``) are split into batches;
   a thread pool decodes, corrupts (the torch engine, on ``cfg.device``) and preprocesses the next
   batches while the current one runs through the model (torch ops release the GIL);
3. the per-rank metric states are gathered and merged on every rank (exact: counts, confusion
   matrices, detections), and rank 0 persists the merged state atomically.

Scores are computed from merged states only, so a resumed or distributed run gives exactly the
numbers of one uninterrupted process.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evaluator.allocator import retain_freed_memory
from evaluator.config import EvalConfig
from evaluator.corrupting import Corruptor
from evaluator.distributed import DistContext, init_from_env
from evaluator.results import CheckpointIdentity, EvalResult, Manifest, summarize_metric
from evaluator.shards import CLEAN, ShardKey, ShardStore, fingerprint
from evaluator.tasks import Task, get_task
from zoo.errors import InvalidInputError

COMPATIBLE_KINDS = {
    "classifier": ("classifier", "onnx"),
    "detector": ("dense", "detector"),
    "segmenter": ("dense", "segmenter"),
}


@dataclass(frozen=True)
class ModelUnderTest:
    """What the engine needs from a checkpoint (``zoo.LoadedCheckpoint`` has the same fields).

    ``model`` is a torch module, or an ONNX Runtime session when ``kind == "onnx"``.
    """

    model: Any
    data_config: Any
    kind: str
    identity: CheckpointIdentity


def evaluate(cfg: EvalConfig) -> EvalResult:
    """Score ``cfg.checkpoint`` on ``cfg.task``; the public entry point (also used by the server)."""
    task = get_task(cfg.task)
    return evaluate_model(load_model(cfg, task), cfg, task=task)


def load_model(cfg: EvalConfig, task: Task | None = None) -> ModelUnderTest:
    """Load ``cfg.checkpoint`` safely (never a pickle); ONNX files through the ONNX checks."""
    task = task or get_task(cfg.task)
    if str(cfg.checkpoint).endswith(".onnx"):
        from evaluator.onnx_io import load_onnx_file, read_data_config

        session, digest = load_onnx_file(Path(cfg.checkpoint), cfg.device)
        identity = CheckpointIdentity(name=Path(cfg.checkpoint).name, sha256=digest, source="onnx")
        return ModelUnderTest(session, read_data_config(Path(cfg.checkpoint), session), "onnx", identity)
    import zoo

    loaded = zoo.load_checkpoint(cfg.checkpoint, arch=cfg.arch)
    return ModelUnderTest(loaded.model, loaded.data_config, loaded.kind, loaded.identity)


def evaluate_model(
    mut: ModelUnderTest,
    cfg: EvalConfig,
    *,
    task: Task | None = None,
    dist: DistContext | None = None,
) -> EvalResult:
    """Evaluate an already loaded model (see :func:`evaluate`)."""
    retain_freed_memory()  # every batch reuses the previous batch's memory (see evaluator.allocator)
    started = time.perf_counter()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    task = task or get_task(cfg.task)
    if mut.kind not in COMPATIBLE_KINDS[task.model_kind]:
        raise InvalidInputError(
            f"{cfg.task} needs a {task.model_kind} checkpoint; {mut.identity.name} is a {mut.kind} model"
        )
    dist = dist or init_from_env(cfg.device)
    device = _device_for_rank(cfg.device, dist)
    dataset = task.open(cfg.data_root, cfg.limit, cfg.subset)
    if len(dataset) == 0:
        raise InvalidInputError(f"{cfg.task}: no images found under {cfg.data_root}")
    runner, runtime_note = _make_runner(mut, cfg, task, device)
    prepare = task.make_prepare(mut.data_config)
    corruptor = Corruptor(task.param_set, cfg.seed, device)
    keys = [ShardKey(CLEAN, 0)] + [ShardKey(c, s) for c in cfg.selected_corruptions for s in cfg.severities]
    preprocessing = task.describe_preprocessing(mut.data_config)
    subset = dataset.describe().get("subset")  # the named selection, e.g. robustbench-imagenet-5000[:N]
    description = {
        "task": cfg.task,
        "checkpoint": asdict(mut.identity),
        "runtime": cfg.runtime,
        "limit": cfg.limit,
        "subset": subset,
        "seed": cfg.seed,
        "corruption_params": task.param_set,
        "corruption_backend": corruptor.backend,
        "preprocessing": preprocessing,
        "num_images": len(dataset),
    }
    store = None
    if cfg.work_dir is not None:
        store = ShardStore(cfg.work_dir, fingerprint(description), description)
        if dist.is_main:
            store.write_run_file()

    states: dict[ShardKey, dict[str, Any]] = {}
    todo: list[ShardKey] = []
    for key in keys:
        found = store.load(key) if (store is not None and cfg.resume) else None
        found = dist.broadcast(found)
        if found is not None and found[1] == len(dataset):
            states[key] = found[0]
        else:
            todo.append(key)

    progress = _Progress(enabled=cfg.progress and dist.is_main, total=len(todo) * len(dataset))
    indices = list(dist.split(len(dataset)))
    chunks = [indices[i : i + cfg.batch_size] for i in range(0, len(indices), cfg.batch_size)]

    def produce(item: tuple[ShardKey, list[int]]) -> tuple[Any, list[Any], list[Any]]:
        key, chunk = item
        images, targets = _load_images(task, dataset, chunk, key, corruptor)
        return prepare(images), targets, [dataset.image_id(i) for i in chunk]

    # One stream of batches over all shards still to run, so that prefetching crosses shard
    # boundaries and the model never waits for the first batch of the next shard.
    work = [(key, chunk) for key in todo for chunk in chunks]
    workers = cfg.prefetch_workers
    with progress, ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        stream = _prefetch(pool, produce, work, depth=workers + 1 if workers else 0)
        try:
            for key in todo:
                progress.describe(key)
                local = _consume_shard(task, runner, stream, len(chunks), progress, dist.world_size)
                gathered = dist.gather(local)
                seen = sum(count for _, count in gathered)
                if seen != len(dataset):  # every image exactly once across ranks, or the numbers are wrong
                    raise RuntimeError(f"shard {key}: {seen} images evaluated, expected {len(dataset)}")
                merged = task.merge([state for state, _ in gathered])
                if store is not None and dist.is_main:
                    store.save(key, merged, len(dataset))
                dist.barrier()
                states[key] = merged
        finally:
            stream.close()  # cancel batches still queued (an error, or nothing left to do)

    clean_scores = task.scores(states[ShardKey(CLEAN, 0)], dataset)
    tables: dict[str, dict[str, dict[int, float]]] = {m: {} for m in task.metric_names}
    for key in keys[1:]:
        for metric, value in task.scores(states[key], dataset).items():
            tables[metric].setdefault(key.corruption, {})[key.severity] = value
    metrics = {
        m: summarize_metric(m, clean_scores[m], tables[m], with_mce=task.with_mce) for m in task.metric_names
    }
    sources = _corruption_sources(dataset, cfg, corruptor)
    manifest = Manifest(
        rzoo_version=_version("rzoo"),
        torch_version=_version("torch"),
        timm_version=_version("timm"),
        corruption_backend=sources,
        corruption_params=task.param_set,
        seed=cfg.seed,
        device=device,
        runtime=runtime_note,
        preprocessing=preprocessing,
        world_size=dist.world_size,
        wall_time_s=round(time.perf_counter() - started, 3),
        started_at=started_at,
        subset=subset,
    )
    return EvalResult(
        task=cfg.task,
        checkpoint=mut.identity,
        primary_metric=task.primary_metric,
        metrics=metrics,
        num_images=len(dataset),
        manifest=manifest,
    )


def _consume_shard(
    task: Task,
    runner: Callable[[Any], Any],
    stream: Iterator[tuple[Any, list[Any], list[Any]]],
    num_batches: int,
    progress: _Progress,
    world_size: int,
) -> tuple[dict[str, Any], int]:
    """Run the next ``num_batches`` prepared batches of ``stream`` through the model: this rank's
    metric state for one shard and how many images went into it."""
    state = task.new_state()
    seen = 0
    for _ in range(num_batches):
        inputs, targets, ids = next(stream)
        outputs = runner(inputs)
        task.update(state, outputs, targets, ids)
        seen += len(ids)
        progress.advance(len(ids) * world_size)
    return state, seen


def _load_images(task: Task, dataset: Any, chunk: list[int], key: ShardKey, corruptor: Corruptor) -> Any:
    """Clean or corrupted uint8 images (stacked when the task's images share one size) + targets."""
    import torch

    if hasattr(dataset, "load_many"):
        images, targets = dataset.load_many(chunk)
    else:
        pairs = [dataset.load(i) for i in chunk]
        images, targets = [p[0] for p in pairs], [p[1] for p in pairs]
        if task.stackable and len({tuple(img.shape) for img in images}) == 1:
            images = torch.stack(images)
    if key.is_clean:
        return images, targets
    if dataset.has_precomputed(key.corruption, key.severity):
        if hasattr(dataset, "load_precomputed_many"):
            return dataset.load_precomputed_many(chunk, key.corruption, key.severity), targets
        corrupted = [dataset.load_precomputed(i, key.corruption, key.severity) for i in chunk]
        if task.stackable and len({tuple(img.shape) for img in corrupted}) == 1:
            return torch.stack(corrupted), targets
        return corrupted, targets
    ids = [dataset.image_id(i) for i in chunk]
    return corruptor.apply(images, key.corruption, key.severity, ids), targets


def _prefetch(
    pool: ThreadPoolExecutor, fn: Callable[[Any], Any], items: Sequence[Any], depth: int
) -> Iterator[Any]:
    """``map(fn, items)`` in order, keeping ``depth`` items in flight on ``pool`` (0: computed lazily
    in the calling thread, one at a time)."""
    if depth == 0:
        yield from map(fn, items)
        return
    pending: deque[Any] = deque()
    it = iter(items)
    for item in it:
        pending.append(pool.submit(fn, item))
        if len(pending) >= depth:
            break
    try:
        while pending:
            result = pending.popleft().result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.submit(fn, nxt))
            yield result
    finally:
        for fut in pending:
            fut.cancel()


def _make_runner(mut: ModelUnderTest, cfg: EvalConfig, task: Task, device: str) -> tuple[Any, str]:
    from evaluator.runtime import OnnxRunner, TorchRunner

    if mut.kind == "onnx":
        runner = OnnxRunner(mut.model, task.model_kind)
        return runner, f"onnxruntime ({', '.join(runner.providers)})"
    if cfg.runtime == "onnx":
        if task.model_kind != "classifier":
            raise InvalidInputError("--runtime onnx supports classification tasks only")
        import tempfile

        from evaluator.onnx_io import export_onnx, open_session
        from evaluator.preprocessing import ClassifierPreprocessing

        pre = ClassifierPreprocessing.from_data_config(mut.data_config)
        with tempfile.TemporaryDirectory(prefix="rzoo-onnx-") as tmp:
            path = Path(tmp) / "model.onnx"
            export_onnx(mut.model, path, (3, *pre.size), data_config=pre.to_data_config())
            session = open_session(path.read_bytes(), device)
        runner = OnnxRunner(session, task.model_kind)
        return runner, f"onnxruntime ({', '.join(runner.providers)})"
    return TorchRunner(mut.model, device, task.model_kind), "torch"


def _device_for_rank(device: str, dist: DistContext) -> str:
    if device == "cuda" and dist.enabled:
        import torch

        local = int(os.environ.get("LOCAL_RANK", dist.rank))
        torch.cuda.set_device(local)
        return f"cuda:{local}"
    return device


def _corruption_sources(dataset: Any, cfg: EvalConfig, corruptor: Corruptor) -> str:
    released = [c for c in cfg.selected_corruptions if dataset.has_precomputed(c, cfg.severities[0])]
    fly = [c for c in cfg.selected_corruptions if c not in released]
    if not fly:
        return "released files"
    if not released:
        return corruptor.backend
    return f"released files + {corruptor.backend} for {', '.join(fly)}"


def _version(dist_name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist_name)
    except PackageNotFoundError:
        return "unknown"


class _Progress:
    """A rich progress bar over all images of the shards still to run (silent when disabled)."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled = enabled and total > 0
        self.total = total
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("evaluating", total=self.total)
        return self

    def describe(self, key: ShardKey) -> None:
        if self._bar is not None:
            label = "clean" if key.is_clean else f"{key.corruption} s{key.severity}"
            self._bar.update(self._task, description=f"{label:<22}")

    def advance(self, n: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


__all__ = ["ModelUnderTest", "evaluate", "evaluate_model", "load_model"]
