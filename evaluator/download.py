"""Downloading benchmark data: checksummed, resumable (HTTP Range), with a progress bar.

``download_dataset("cifar10-c", root)`` fetches

- CIFAR-10-C from its official Zenodo release (record 2535967, ``CIFAR-10-C.tar``): the file's URL and
  md5 come from Zenodo's records API (``/api/records/<id>``, as RobustBench does), and the tar is
  extracted to ``root/CIFAR-10-C``;
- the CIFAR-10 test set from its official URL (``cifar-10-python.tar.gz``, md5 pinned here), of which
  ``cifar-10-batches-py/`` is extracted.

A download goes to ``<file>.part``; an interrupted one continues from where it stopped with
``Range: bytes=N-`` (a server that answers 200 instead of 206 restarts it). A finished file whose md5
differs is deleted and raises :class:`ChecksumError`. Archives are extracted with tarfile's ``data``
filter (no absolute paths, links out of the target or device files). Endpoints can be redirected to a
mirror with ``RZOO_ZENODO_URL`` and ``RZOO_CIFAR10_URL``.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from zoo.errors import ChecksumError, InvalidInputError, RzooError, unknown_name

ZENODO_URL = "https://zenodo.org"
CIFAR10_C_RECORD = "2535967"
CIFAR10_C_FILE = "CIFAR-10-C.tar"
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
DATASETS = ("cifar10-c",)
CHUNK = 1 << 20


class DownloadError(RzooError):
    """A server that cannot be reached or refuses a request."""


@dataclass(frozen=True)
class RemoteFile:
    url: str
    filename: str
    md5: str
    size: int | None = None


def zenodo_file(record: str, filename: str, base_url: str | None = None) -> RemoteFile:
    """URL, md5 and size of one file of a Zenodo record, from the records API."""
    base = (base_url or os.environ.get("RZOO_ZENODO_URL") or ZENODO_URL).rstrip("/")
    api = f"{base}/api/records/{record}"
    try:
        with urllib.request.urlopen(api, timeout=60) as response:
            meta = json.loads(response.read())
    except (urllib.error.URLError, OSError, json.JSONDecodeError) as err:
        raise DownloadError(f"cannot read Zenodo record {record} at {api}: {err}") from err
    for entry in meta.get("files", []):
        if entry.get("key") == filename:
            algo, _, digest = str(entry.get("checksum", "")).partition(":")
            if algo != "md5" or not digest:
                raise DownloadError(f"Zenodo record {record}: no md5 for {filename}")
            url = entry.get("links", {}).get("self") or f"{base}/records/{record}/files/{filename}"
            return RemoteFile(url, filename, digest, entry.get("size"))
    raise DownloadError(f"Zenodo record {record} has no file {filename}")


def md5_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(remote: RemoteFile, folder: Path, progress: bool = True) -> Path:
    """Download ``remote`` into ``folder`` (resuming a ``.part`` file) and verify its md5."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / remote.filename
    if final.is_file() and md5_file(final) == remote.md5:
        return final
    part = folder / f"{remote.filename}.part"
    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(remote.url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # nothing left to fetch: the part file is complete
            response = None
        else:
            raise DownloadError(f"GET {remote.url}: HTTP {err.code}") from err
    except (urllib.error.URLError, OSError) as err:
        raise DownloadError(f"GET {remote.url}: {err}") from err
    if response is not None:
        with response:
            resumed = response.status == 206
            mode = "ab" if resumed else "wb"
            start = have if resumed else 0
            length = response.headers.get("Content-Length")
            total = start + int(length) if length is not None else remote.size
            received = 0
            with open(part, mode) as out, _bar(remote.filename, total, start, progress) as advance:
                try:
                    for block in iter(lambda: response.read(CHUNK), b""):
                        out.write(block)
                        received += len(block)
                        advance(len(block))
                except (OSError, http.client.HTTPException) as err:
                    raise DownloadError(
                        f"{remote.filename}: transfer interrupted ({err}); run again to resume"
                    ) from err
            if length is not None and received < int(length):
                raise DownloadError(
                    f"{remote.filename}: transfer interrupted after {start + received} bytes; run again to resume"
                )
    got = md5_file(part)
    if got != remote.md5:
        part.unlink(missing_ok=True)
        raise ChecksumError(
            f"{remote.filename}: md5 {got} != expected {remote.md5}; the partial file was removed"
        )
    part.replace(final)
    return final


class _bar:
    def __init__(self, name: str, total: int | None, start: int, enabled: bool) -> None:
        self.name, self.total, self.start, self.enabled = name, total, start, enabled
        self._progress = None

    def __enter__(self):
        if not self.enabled:
            return lambda n: None
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

        self._progress = Progress(
            "{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=Console(stderr=True),
        )
        self._progress.__enter__()
        task = self._progress.add_task(self.name, total=self.total, completed=self.start)
        return lambda n: self._progress.advance(task, n)

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.__exit__(*exc)


def extract(archive: Path, dest: Path, members_under: str) -> Path:
    """Extract the members of ``archive`` under ``members_under/`` into ``dest`` (tarfile's data filter)."""
    try:
        with tarfile.open(archive) as tar:
            chosen = [m for m in tar.getmembers() if m.name.split("/")[0] == members_under]
            if not chosen:
                raise InvalidInputError(f"{archive}: no {members_under}/ inside")
            tar.extractall(dest, members=chosen, filter="data")
    except tarfile.TarError as err:
        raise InvalidInputError(f"{archive}: not a readable tar archive ({err})") from err
    return dest / members_under


def download_dataset(
    name: str, root: Path, *, progress: bool = True, keep_archives: bool = False
) -> list[Path]:
    """Fetch, verify and extract a benchmark's data under ``root``; returns the extracted folders."""
    if name not in DATASETS:
        raise unknown_name("dataset", name, DATASETS)
    root = Path(root).expanduser()
    downloads = root / "downloads"
    cifar = RemoteFile(os.environ.get("RZOO_CIFAR10_URL", CIFAR10_URL), "cifar-10-python.tar.gz", CIFAR10_MD5)
    corrupted = zenodo_file(CIFAR10_C_RECORD, CIFAR10_C_FILE)
    out = []
    for remote, inner in ((cifar, "cifar-10-batches-py"), (corrupted, "CIFAR-10-C")):
        archive = fetch(remote, downloads, progress)
        out.append(extract(archive, root, inner))
        if not keep_archives:
            archive.unlink()
    if not keep_archives and downloads.is_dir() and not any(downloads.iterdir()):
        downloads.rmdir()
    return out
