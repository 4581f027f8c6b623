"""Which upstream backbone and which transfer mode produced a downstream result.

A results file names the evaluated checkpoint; the report needs the ImageNet backbone it was
fine-tuned from and how (``fixed``: frozen backbone; ``full``: whole network). In order of precedence:

1. an explicit :class:`Assignment` for the checkpoint name (a mapping file or ``--assign`` on the CLI);
2. the checkpoint identity's ``base_model`` / ``transfer_mode`` (filled by ``rzoo eval`` from the
   fine-tuned checkpoint's ``config.json``);
3. otherwise the checkpoint itself is taken as the backbone and the mode is unknown (``None``) — the
   report lists such results so nothing is silently guessed.

Zoo aliases are resolved to canonical ``arch.tag`` names so ``r50`` and ``resnet50.tv_in1k`` meet.

A mapping file is JSON::

    {"checkpoints": {"<checkpoint name>": {"base_model": "resnet50.augmix_in1k", "mode": "full"}},
     "robustbench": {"<RobustBench model name>": "<zoo backbone name>"}}
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluator.results import TRANSFER_MODES, EvalResult
from zoo.errors import InvalidInputError


@dataclass(frozen=True)
class Assignment:
    """The upstream backbone and transfer mode of one checkpoint (``mode`` None: unknown)."""

    base_model: str
    mode: str | None = None

    def __post_init__(self) -> None:
        if not self.base_model:
            raise InvalidInputError("an assignment needs a backbone name")
        if self.mode is not None and self.mode not in TRANSFER_MODES:
            raise InvalidInputError(f"transfer mode {self.mode!r} is not one of {', '.join(TRANSFER_MODES)}")


@dataclass(frozen=True)
class ReportMapping:
    """Explicit assignments by checkpoint name, and RobustBench row names mapped to backbones."""

    checkpoints: Mapping[str, Assignment] = field(default_factory=dict)
    robustbench: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Identified:
    backbone: str
    mode: str | None
    how: str  # "mapping" | "checkpoint" | "assumed"


def parse_assignment(text: str) -> tuple[str, Assignment]:
    """``CHECKPOINT=BACKBONE[:MODE]`` (the CLI's ``--assign``) -> (checkpoint, Assignment)."""
    checkpoint, sep, target = text.partition("=")
    if not sep or not checkpoint.strip() or not target.strip():
        raise InvalidInputError(f"--assign {text!r}: expected CHECKPOINT=BACKBONE[:MODE]")
    backbone, _, mode = target.partition(":")
    return checkpoint.strip(), Assignment(backbone.strip(), mode.strip() or None)


def load_mapping(path: str | os.PathLike[str]) -> ReportMapping:
    """Read a mapping file (format in the module docstring); malformed files raise InvalidInputError."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as err:
        raise InvalidInputError(f"no such mapping file: {path}") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InvalidInputError(f"{path}: not valid JSON ({err})") from err
    return mapping_from_dict(data, origin=str(path))


def mapping_from_dict(data: Any, origin: str = "mapping") -> ReportMapping:
    if not isinstance(data, dict) or set(data) - {"checkpoints", "robustbench"}:
        raise InvalidInputError(f"{origin}: expected an object with 'checkpoints' and/or 'robustbench'")
    checkpoints: dict[str, Assignment] = {}
    for name, entry in (data.get("checkpoints") or {}).items():
        if not isinstance(entry, dict) or not isinstance(entry.get("base_model"), str):
            raise InvalidInputError(f"{origin}: checkpoint {name!r} needs a 'base_model' string")
        mode = entry.get("mode")
        if mode is not None and not isinstance(mode, str):
            raise InvalidInputError(f"{origin}: checkpoint {name!r}: 'mode' must be a string")
        try:
            checkpoints[name] = Assignment(entry["base_model"], mode)
        except InvalidInputError as err:
            raise InvalidInputError(f"{origin}: checkpoint {name!r}: {err}") from None
    robustbench = data.get("robustbench") or {}
    if not isinstance(robustbench, dict) or not all(isinstance(v, str) for v in robustbench.values()):
        raise InvalidInputError(f"{origin}: 'robustbench' must map RobustBench names to backbone names")
    return ReportMapping(checkpoints=checkpoints, robustbench=dict(robustbench))


def merge_mappings(*mappings: ReportMapping) -> ReportMapping:
    """Later mappings win (CLI ``--assign`` over the mapping file)."""
    checkpoints: dict[str, Assignment] = {}
    robustbench: dict[str, str] = {}
    for m in mappings:
        checkpoints.update(m.checkpoints)
        robustbench.update(m.robustbench)
    return ReportMapping(checkpoints=checkpoints, robustbench=robustbench)


def canonical_backbone(name: str) -> str:
    """The zoo's canonical name for a registered name or alias; other names unchanged."""
    from zoo import is_registered, resolve_name

    return resolve_name(name) if is_registered(name) else name


def identify(result: EvalResult, mapping: ReportMapping | None = None) -> Identified:
    """The backbone and transfer mode of ``result`` (see the module docstring for the precedence)."""
    ckpt = result.checkpoint
    explicit = (mapping.checkpoints if mapping else {}).get(ckpt.name)
    if explicit is not None:
        return Identified(canonical_backbone(explicit.base_model), explicit.mode, "mapping")
    if ckpt.base_model:
        return Identified(canonical_backbone(ckpt.base_model), ckpt.transfer_mode, "checkpoint")
    return Identified(canonical_backbone(ckpt.name), ckpt.transfer_mode, "assumed")
