"""Server and worker settings (one frozen dataclass, filled from the CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = Path("~/.rzoo/server").expanduser()
DEFAULT_DATA_ROOT = Path("~/data").expanduser()


@dataclass(frozen=True)
class ServerConfig:
    """Everything the API, the queue and the workers need to know.

    ``home`` holds the SQLite database (when ``db_url`` is not given), the content-addressed
    upload store and the per-job work folders.
    """

    home: Path = DEFAULT_HOME
    db_url: str | None = None
    data_root: Path = DEFAULT_DATA_ROOT
    max_upload_bytes: int = 2 * 1024**3
    rate_limit_per_minute: int = 120
    lease_seconds: float = 60.0
    heartbeat_seconds: float = 10.0
    max_attempts: int = 3
    job_time_limit_s: int = 6 * 3600
    job_memory_limit_bytes: int | None = 32 * 1024**3
    device: str = "cpu"
    nproc_per_node: int = 1  # > 1: evaluations run under torchrun with this many ranks
    jobs_dir: Path | None = None  # default: <home>/jobs
    server_url: str | None = None  # workers on other hosts fetch uploaded weights from this API
    server_token: str | None = None  # an admin token for that

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.home / 'rzoo.sqlite3'}"

    @property
    def store_dir(self) -> Path:
        return self.home / "store"

    @property
    def work_dir(self) -> Path:
        return self.jobs_dir or self.home / "jobs"
