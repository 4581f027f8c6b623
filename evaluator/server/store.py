"""The content-addressed upload store: ``<root>/<sha[:2]>/<sha256>.<format>``, written atomically."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from evaluator.server.safety import check_not_pickle, validate_onnx, validate_safetensors
from zoo.errors import InvalidInputError, UnsafeFileError

CHUNK = 1024 * 1024


class UploadTooLarge(InvalidInputError):
    pass


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    format: str
    path: Path


class PendingUpload:
    """A file being received: chunks go to a temporary file (hashed on the way) until ``commit``.

    Nothing lands in the store unless every check passes; ``discard`` (or a failed ``commit``)
    removes the temporary file.
    """

    def __init__(self, root: Path, fmt: str, max_bytes: int, display_name: str | None = None) -> None:
        self.root = root
        self.display_name = display_name
        self.format = fmt
        self.max_bytes = max_bytes
        tmp_dir = root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="upload-", dir=tmp_dir)
        self._fh = os.fdopen(fd, "wb")
        self.tmp_path = Path(name)
        self._hash = hashlib.sha256()
        self.size = 0
        self._head = b""

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise UploadTooLarge(f"upload larger than the server's limit of {self.max_bytes} bytes")
        if len(self._head) < 8:
            self._head += chunk[: 8 - len(self._head)]
            if len(self._head) >= 2:
                check_not_pickle(self._head)
        self._hash.update(chunk)
        self._fh.write(chunk)

    @property
    def sha256(self) -> str:
        """Digest of the bytes written so far."""
        return self._hash.hexdigest()

    def discard(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        self.tmp_path.unlink(missing_ok=True)

    def commit(self) -> StoredFile:
        try:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            if self.size == 0:
                raise UnsafeFileError("refused: empty upload")
            if self.format == "safetensors":
                validate_safetensors(self.tmp_path, self.display_name)
            else:
                validate_onnx(self.tmp_path)
            digest = self.sha256
            final = path_for(self.root, digest, self.format)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(self.tmp_path, 0o444)  # never executed, never modified
            os.replace(self.tmp_path, final)  # same content, same name: idempotent
            return StoredFile(digest, self.size, self.format, final)
        except BaseException:
            self.discard()
            raise


def path_for(root: Path, sha256: str, fmt: str) -> Path:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise InvalidInputError(f"not a sha256 digest: {sha256!r}")
    return root / sha256[:2] / f"{sha256}.{fmt}"


def stored_files(root: Path) -> list[Path]:
    """Every file in the store (temporary files excluded)."""
    return sorted(p for p in root.glob("??/*") if p.is_file())


def fetch_into_store(root: Path, sha256: str, fmt: str, url: str, token: str, max_bytes: int) -> Path:
    """Download ``<url>/api/weights/<sha256>.<fmt>`` into this host's store; the digest and the
    format checks are verified again here (a worker trusts no bytes it did not check)."""
    import httpx

    final = path_for(root, sha256, fmt)
    if final.exists():
        return final
    pending = PendingUpload(root, fmt, max_bytes, f"{sha256[:12]}.{fmt}")
    try:
        with httpx.stream(
            "GET",
            f"{url.rstrip('/')}/api/weights/{sha256}.{fmt}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        ) as response:
            if response.status_code != 200:
                raise InvalidInputError(
                    f"cannot fetch weights {sha256} from {url}: HTTP {response.status_code}"
                )
            for chunk in response.iter_bytes(CHUNK):
                pending.write(chunk)
    except httpx.HTTPError as err:
        pending.discard()
        raise InvalidInputError(f"cannot fetch weights {sha256} from {url}: {err}") from err
    except BaseException:
        pending.discard()
        raise
    if pending.sha256 != sha256:
        pending.discard()
        raise UnsafeFileError(f"weights fetched from {url} do not match sha256 {sha256}")
    return pending.commit().path
