"""Training-state checkpoints without pickles: tensors in safetensors, everything else in JSON.

A checkpoint is a folder ``checkpoints/step_00000100/`` holding ``model.safetensors`` (the model),
``optimizer.safetensors`` (per-parameter state tensors), ``rng_rank{r}.safetensors`` (each rank's
torch / CUDA / NumPy / Python RNG states as tensors) and ``state.json`` (step, optimizer param groups
and scalar state, grad-scaler state, world size). ``state.json`` is written last: a folder without
it is incomplete and ignored.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from zoo.errors import InvalidInputError

STATE_JSON = "state.json"


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    return run_dir / "checkpoints" / f"step_{step:08d}"


def latest_checkpoint(run_dir: Path) -> Path | None:
    folders = sorted((run_dir / "checkpoints").glob("step_*"))
    complete = [f for f in folders if (f / STATE_JSON).is_file()]
    return complete[-1] if complete else None


def rng_state_tensors() -> dict[str, torch.Tensor]:
    np_state = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    tensors = {
        "torch": torch.get_rng_state(),
        "numpy.keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
        "numpy.meta": torch.tensor([np_state[2], np_state[3]], dtype=torch.int64),
        "numpy.gauss": torch.tensor([np_state[4]], dtype=torch.float64),
        "python.internal": torch.tensor(py_internal, dtype=torch.int64),
        "python.meta": torch.tensor([py_version, 0 if py_gauss is None else 1], dtype=torch.int64),
        "python.gauss": torch.tensor([0.0 if py_gauss is None else py_gauss], dtype=torch.float64),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["cuda"] = torch.cuda.get_rng_state()
    return tensors


def set_rng_state_tensors(tensors: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(tensors["torch"])
    if "cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["cuda"])
    meta = tensors["numpy.meta"].tolist()
    np.random.set_state(
        (
            "MT19937",
            tensors["numpy.keys"].numpy().astype(np.uint32),
            int(meta[0]),
            int(meta[1]),
            float(tensors["numpy.gauss"][0]),
        )
    )
    version, has_gauss = tensors["python.meta"].tolist()
    gauss = float(tensors["python.gauss"][0]) if has_gauss else None
    random.setstate((int(version), tuple(int(x) for x in tensors["python.internal"].tolist()), gauss))


def _split_optimizer_state(state_dict: dict) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, per_param in state_dict["state"].items():
        for key, value in per_param.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{idx}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(idx), {})[key] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def _join_optimizer_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    for idx, values in meta["scalars"].items():
        state.setdefault(int(idx), {}).update(values)
    groups = [{k: tuple(v) if k == "betas" else v for k, v in g.items()} for g in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


def save_checkpoint(
    run_dir: Path,
    step: int,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler_state: dict[str, Any] | None,
    rank: int,
    world_size: int,
    barrier,
    keep: int,
) -> Path:
    """Every rank writes its RNG state; rank 0 writes the model, optimizer and, last, state.json."""
    folder = checkpoint_dir(run_dir, step)
    if rank == 0:
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
    barrier()
    save_file(rng_state_tensors(), str(folder / f"rng_rank{rank}.safetensors"))
    if rank == 0:
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
            str(folder / "model.safetensors"),
        )
        opt_tensors, opt_meta = _split_optimizer_state(optimizer.state_dict())
        save_file(opt_tensors, str(folder / "optimizer.safetensors"))
    barrier()
    if rank == 0:
        meta = {"step": step, "world_size": world_size, "optimizer": opt_meta, "grad_scaler": scaler_state}
        tmp = folder / f".{STATE_JSON}.tmp"
        tmp.write_text(json.dumps(meta, indent=1))
        os.replace(tmp, folder / STATE_JSON)
        for old in sorted((run_dir / "checkpoints").glob("step_*"))[:-keep] if keep > 0 else []:
            shutil.rmtree(old, ignore_errors=True)
    barrier()
    return folder


def load_checkpoint(
    folder: Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer, rank: int, world_size: int
) -> dict[str, Any]:
    """Restore model, optimizer and this rank's RNG; returns state.json (step, grad_scaler, ...)."""
    from zoo.dense.io import load_state_strict

    meta = json.loads((folder / STATE_JSON).read_text())
    if meta["world_size"] != world_size:
        raise InvalidInputError(
            f"{folder} was written by {meta['world_size']} processes; resume with the same number (got {world_size}) "
            "so that every rank's RNG state continues exactly"
        )
    device = next(model.parameters()).device
    load_state_strict(
        model, load_file(str(folder / "model.safetensors"), device=str(device)), folder / "model.safetensors"
    )
    optimizer.load_state_dict(
        _join_optimizer_state(load_file(str(folder / "optimizer.safetensors")), meta["optimizer"])
    )
    set_rng_state_tensors(load_file(str(folder / f"rng_rank{rank}.safetensors")))
    return meta
