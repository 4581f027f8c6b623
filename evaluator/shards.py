"""Persisted shards: one small JSON file per finished (corruption, severity) of a run.

Layout of a work directory::

    work_dir/
      run.json                        # {"format": "rzoo.run/1", "fingerprint": ..., "config": {...}}
      shards/clean-s0.json            # the clean pass
      shards/<corruption>-s<severity>.json

A shard file holds the *metric state* (counts, a confusion matrix, COCO detections) of the whole
shard after merging across ranks, never a finished score, so that scores computed from reused shards
are exactly those of an uninterrupted run::

    {"format": "rzoo.shard/1", "fingerprint": "<sha256 of the run>", "corruption": "fog",
     "severity": 3, "num_images": 10000, "state": {...}, "state_sha256": "<sha256 of state>"}

A file that does not parse, has another format or fingerprint, or whose state does not hash to
``state_sha256`` (a truncated or edited file) is treated as missing: the shard is evaluated again.
Files are written through a temporary file and an atomic rename.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluator.results import atomic_write_text

SHARD_FORMAT = "rzoo.shard/1"
RUN_FORMAT = "rzoo.run/1"
CLEAN = "clean"


@dataclass(frozen=True)
class ShardKey:
    corruption: str  # "clean" for the clean pass
    severity: int  # 0 for the clean pass

    @property
    def filename(self) -> str:
        return f"{self.corruption}-s{self.severity}.json"

    @property
    def is_clean(self) -> bool:
        return self.corruption == CLEAN


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def fingerprint(description: dict[str, Any]) -> str:
    """A sha256 naming everything that changes the numbers of a run (not batch size or progress)."""
    return hashlib.sha256(canonical_json(description).encode()).hexdigest()


class ShardStore:
    """Reads and writes the shards of one run in ``work_dir``."""

    def __init__(self, work_dir: Path, run_fingerprint: str, description: dict[str, Any]) -> None:
        self.work_dir = Path(work_dir)
        self.fingerprint = run_fingerprint
        self.description = description

    @property
    def shard_dir(self) -> Path:
        return self.work_dir / "shards"

    def path(self, key: ShardKey) -> Path:
        return self.shard_dir / key.filename

    def write_run_file(self) -> None:
        atomic_write_text(
            self.work_dir / "run.json",
            json.dumps(
                {"format": RUN_FORMAT, "fingerprint": self.fingerprint, "config": self.description},
                indent=2,
            )
            + "\n",
        )

    def load(self, key: ShardKey) -> tuple[dict[str, Any], int] | None:
        """The (state, num_images) of a valid finished shard, or None (missing, stale or damaged)."""
        path = self.path(key)
        try:
            data = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError, OSError):
            return None
        if not isinstance(data, dict) or data.get("format") != SHARD_FORMAT:
            return None
        if data.get("fingerprint") != self.fingerprint:
            return None
        if data.get("corruption") != key.corruption or data.get("severity") != key.severity:
            return None
        state = data.get("state")
        digest = hashlib.sha256(canonical_json(state).encode()).hexdigest()
        if digest != data.get("state_sha256") or not isinstance(data.get("num_images"), int):
            return None
        return state, data["num_images"]

    def save(self, key: ShardKey, state: dict[str, Any], num_images: int) -> Path:
        record = {
            "format": SHARD_FORMAT,
            "fingerprint": self.fingerprint,
            "corruption": key.corruption,
            "severity": key.severity,
            "num_images": num_images,
            "state": state,
            "state_sha256": hashlib.sha256(canonical_json(state).encode()).hexdigest(),
        }
        return atomic_write_text(self.path(key), canonical_json(record) + "\n")
