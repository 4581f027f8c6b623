"""The fine-tuning loop: one generic loop for every task.

Per optimizer step: ``accumulation_steps`` micro-batches (DDP gradients synchronised on the last
one only), optional AMP (CUDA), gradient clipping, the lr from the pure schedule, a JSONL log line
every ``log_every`` steps, a checkpoint every ``checkpoint_every`` steps. ``resume`` restores the
model, optimizer, grad scaler, every rank's RNG and the step; the data order is a pure function of
(seed, epoch), so the resumed run continues exactly where the interrupted one was.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from zoo.errors import InvalidInputError
from zoo.finetune.data.sampler import StepBatches
from zoo.finetune.distributed import DistContext, init_distributed, shutdown_distributed
from zoo.finetune.recipes import Recipe
from zoo.finetune.schedule import lr_factor
from zoo.finetune.state import latest_checkpoint, load_checkpoint, save_checkpoint
from zoo.finetune.tasks import TaskSetup, batch_to_device, build_task

RECIPE_FILE = "recipe.json"
RUN_FILE = "run.json"
LOG_FILE = "log.jsonl"


@dataclass(frozen=True)
class RunOptions:
    """How a run is executed (not part of the result-determining recipe)."""

    backbone: str
    out: Path
    data_root: Path | None = None
    device: str = "auto"
    pretrained: bool = True
    checkpoint_every: int = 1000
    keep_checkpoints: int = 2
    log_every: int = 10
    num_workers: int = 0
    progress: bool = True
    max_steps: int | None = None  # stop early (the run stays resumable)
    evaluate: bool = True  # classification: clean test top-1 at the end (metrics.json)
    eval_limit: int | None = None  # first N test images only


@dataclass
class RunResult:
    out: Path
    step: int
    total_steps: int
    finished: bool
    last_losses: dict[str, float] = field(default_factory=dict)
    steps_per_s: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)


def _no_decay(name: str) -> bool:
    return "norm" in name or "relative_position_bias_table" in name or "absolute_pos_embed" in name


def build_optimizer(module: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """Trainable parameters only (frozen ones have lr_mult 0: not in the optimizer at all)."""
    decay, no_decay = [], []
    for name, param in module.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if recipe.no_decay_norm_and_position and _no_decay(name) else decay).append(param)
    if not decay and not no_decay:
        raise InvalidInputError("nothing to train: every parameter is frozen")
    groups = [{"params": decay, "weight_decay": recipe.weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=recipe.lr, momentum=recipe.momentum)
    return torch.optim.AdamW(groups, lr=recipe.lr, betas=recipe.betas)


def _prepare_run_dir(options: RunOptions, recipe: Recipe, resume: bool, ctx: DistContext) -> Recipe:
    out = options.out
    recipe_path = out / RECIPE_FILE
    if resume:
        if not recipe_path.is_file():
            raise InvalidInputError(f"cannot resume: {recipe_path} does not exist")
        saved = Recipe.from_json(recipe_path.read_text())
        run = json.loads((out / RUN_FILE).read_text())
        if run["backbone"] != options.backbone:
            raise InvalidInputError(f"{out} fine-tunes {run['backbone']!r}, not {options.backbone!r}")
        return saved
    if recipe_path.is_file():
        raise InvalidInputError(
            f"{out} already holds a run; pass --resume {out} to continue it or pick a new --out"
        )
    if ctx.is_main:
        out.mkdir(parents=True, exist_ok=True)
        from evaluator.results import atomic_write_text

        atomic_write_text(recipe_path, recipe.to_json())
        run = {"backbone": options.backbone, "pretrained": options.pretrained, "world_size": ctx.world_size,
               "torch": torch.__version__}  # fmt: skip
        atomic_write_text(out / RUN_FILE, json.dumps(run, indent=2) + "\n")
    ctx.barrier()
    return recipe


def _truncate_log(path: Path, step: int) -> None:
    """Drop log lines past ``step`` (written after the checkpoint we resume from)."""
    if not path.is_file():
        return
    kept = [
        line
        for line in path.read_text().splitlines()
        if line.strip() and json.loads(line).get("step", 0) <= step
    ]
    path.write_text("".join(line + "\n" for line in kept))


def _reduce_losses(losses: dict[str, float], ctx: DistContext) -> dict[str, float]:
    if not ctx.enabled:
        return losses
    import torch.distributed as dist

    keys = sorted(losses)
    values = torch.tensor([losses[k] for k in keys], dtype=torch.float64)
    dist.all_reduce(values)
    return {k: float(v) / ctx.world_size for k, v in zip(keys, values, strict=True)}


def finetune(
    recipe: Recipe, options: RunOptions, *, resume: bool = False, ctx: DistContext | None = None
) -> RunResult:
    """Fine-tune ``options.backbone`` with ``recipe``; writes the run into ``options.out``."""
    own_ctx = ctx is None
    ctx = ctx or init_distributed(options.device)
    try:
        return _finetune(recipe, options, resume, ctx)
    finally:
        if own_ctx:
            shutdown_distributed(ctx)


def _finetune(recipe: Recipe, options: RunOptions, resume: bool, ctx: DistContext) -> RunResult:
    recipe = _prepare_run_dir(options, recipe, resume, ctx)
    torch.manual_seed(recipe.seed)
    setup: TaskSetup = build_task(options.backbone, recipe, options.data_root, options.pretrained)
    device = ctx.device
    setup.train_module.to(device)
    if ctx.enabled and device.type == "cuda":
        setup.train_module = nn.SyncBatchNorm.convert_sync_batchnorm(setup.train_module)
    optimizer = build_optimizer(setup.train_module, recipe)
    use_amp = recipe.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    batches = StepBatches(
        num_samples=len(setup.dataset),
        batch_size=recipe.batch_size,
        world_size=ctx.world_size,
        rank=ctx.rank,
        accumulation_steps=recipe.accumulation_steps,
        seed=recipe.seed,
    )
    steps_per_epoch = batches.steps_per_epoch
    total_steps = recipe.iters if recipe.iters is not None else recipe.epochs * steps_per_epoch  # type: ignore[operator]

    step = 0
    log_path = options.out / LOG_FILE
    if resume:
        checkpoint = latest_checkpoint(options.out)
        if checkpoint is not None:
            meta = load_checkpoint(
                checkpoint,
                model=setup.train_module,
                optimizer=optimizer,
                rank=ctx.rank,
                world_size=ctx.world_size,
            )
            step = int(meta["step"])
            if meta.get("grad_scaler") and use_amp:
                scaler.load_state_dict(meta["grad_scaler"])
        if ctx.is_main:
            _truncate_log(log_path, step)
    ctx.barrier()

    module: nn.Module = setup.train_module
    if ctx.enabled:
        ddp_kwargs = {"device_ids": [device.index]} if device.type == "cuda" else {}
        module = nn.parallel.DistributedDataParallel(setup.train_module, broadcast_buffers=True, **ddp_kwargs)
    module.train()
    trainable = [p for g in optimizer.param_groups for p in g["params"]]
    base_lrs = [recipe.lr for _ in optimizer.param_groups]

    stop_at = total_steps if options.max_steps is None else min(total_steps, options.max_steps)
    bar = None
    if options.progress and ctx.is_main:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=total_steps, initial=step, desc=f"finetune {recipe.task}", unit="step", dynamic_ncols=True
        )
    if recipe.amp and not use_amp and ctx.is_main:
        _append_log(
            log_path, {"step": step, "note": "amp requested but disabled: it runs on CUDA devices only"}
        )

    last_losses: dict[str, float] = {}
    t_start, step_at_start = time.perf_counter(), step
    while step < stop_at:
        epoch, in_epoch = divmod(step, steps_per_epoch)
        micro = batches.micro_batches(epoch, in_epoch)
        loader = torch.utils.data.DataLoader(
            setup.dataset,
            batch_sampler=micro,
            collate_fn=setup.collate,
            num_workers=options.num_workers,
            generator=torch.Generator().manual_seed(recipe.seed + epoch),
            persistent_workers=False,
        )
        iterator = iter(loader)
        while step < stop_at and in_epoch < steps_per_epoch:
            factor = lr_factor(recipe, step, steps_per_epoch, total_steps)
            for group, base in zip(optimizer.param_groups, base_lrs, strict=True):
                group["lr"] = base * factor
            sums: dict[str, float] = {}
            for a in range(recipe.accumulation_steps):
                batch = batch_to_device(next(iterator), device)
                sync = a == recipe.accumulation_steps - 1
                ctx_sync = module.no_sync() if ctx.enabled and not sync else contextlib.nullcontext()
                with ctx_sync, torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                    losses = module(*batch)
                    loss = sum(losses.values()) / recipe.accumulation_steps
                scaler.scale(loss).backward()
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach()) / recipe.accumulation_steps
            if not all(math.isfinite(v) for v in sums.values()):
                raise InvalidInputError(
                    f"non-finite loss at step {step}: {sums} (lower the lr or disable amp)"
                )
            if recipe.grad_clip is not None:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(trainable, recipe.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            in_epoch += 1
            last_losses = sums
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{sum(sums.values()):.4f}", lr=f"{optimizer.param_groups[0]['lr']:.2e}")
            if step % options.log_every == 0 or step == stop_at:
                reduced = _reduce_losses(sums, ctx)
                if ctx.is_main:
                    elapsed = time.perf_counter() - t_start
                    _append_log(
                        log_path,
                        {
                            "step": step,
                            "epoch": step / steps_per_epoch,
                            "lr": optimizer.param_groups[0]["lr"],
                            "loss": sum(reduced.values()),
                            **reduced,
                            "steps_per_s": (step - step_at_start) / elapsed if elapsed > 0 else None,
                            "time": time.time(),
                        },
                    )
            if step % options.checkpoint_every == 0 or step == stop_at:
                save_checkpoint(
                    options.out,
                    step,
                    model=setup.train_module,
                    optimizer=optimizer,
                    scaler_state=scaler.state_dict() if use_amp else None,
                    rank=ctx.rank,
                    world_size=ctx.world_size,
                    barrier=ctx.barrier,
                    keep=options.keep_checkpoints,
                )
        del iterator, loader
    if bar is not None:
        bar.close()
    elapsed = time.perf_counter() - t_start
    finished = step >= total_steps
    metrics: dict[str, float] = {}
    if finished and ctx.is_main:
        setup.export(options.out)
        _append_log(
            log_path, {"step": step, "event": "exported", "files": ["config.json", "model.safetensors"]}
        )
        if options.evaluate and setup.evaluate is not None:
            metrics = setup.evaluate(device, options.eval_limit)
            from evaluator.results import atomic_write_text

            atomic_write_text(options.out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
            _append_log(log_path, {"step": step, "event": "evaluated", **metrics})
    ctx.barrier()
    return RunResult(
        out=options.out,
        step=step,
        total_steps=total_steps,
        finished=finished,
        last_losses=last_losses,
        steps_per_s=(step - step_at_start) / elapsed if elapsed > 0 else 0.0,
        metrics=metrics,
    )


def _append_log(path: Path, record: dict[str, Any]) -> None:
    with path.open("a") as fh:
        fh.write(json.dumps(record) + "\n")


def describe(options: RunOptions) -> dict[str, Any]:
    data = asdict(options)
    return {k: str(v) if isinstance(v, Path) else v for k, v in data.items()}
