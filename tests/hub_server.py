"""A small Hugging Face Hub-compatible HTTP server for tests, driven by the real ``huggingface_hub`` client.

The Hub is the one service these machines cannot reach, so tests serve repos from this process instead:
``hf_hub_download``, ``snapshot_download``, ``HfApi.model_info`` / ``list_repo_tree`` and timm's
``pretrained=True`` talk to it exactly as they talk to huggingface.co. It speaks the endpoints
huggingface_hub 2.x uses for downloads (checked against its source, ``file_download.py``,
``hf_api.py`` and ``utils/_http.py``):

- ``HEAD|GET /{repo_id}/resolve/{revision}/{path}`` (``/datasets/...`` for datasets): headers
  ``X-Repo-Commit``, ``ETag`` (the git blob sha1, quoted) and for LFS files ``X-Linked-Etag`` (the
  sha256, which becomes the blob's name in the cache) and ``X-Linked-Size``; ``Content-Length``;
  ``Range: bytes=N-`` for resumed downloads.
- ``GET /api/{models|datasets}/{repo_id}[/revision/{revision}]``: repo info with ``sha`` and ``siblings``.
- ``GET /api/{models|datasets}/{repo_id}/tree/{revision}[/{path}]?recursive=``: ``{type, oid, size,
  path, lfs: {oid, size, pointerSize}}`` entries.
- Errors as the Hub sends them: 401 + ``X-Error-Code: RepoNotFound`` for a missing repo or a private
  one without a valid token, ``GatedRepo`` (401 anonymous, 403 with a token) for gated repos,
  404 ``RevisionNotFound`` / ``EntryNotFound`` (the latter with ``X-Repo-Commit``), 401 with
  ``X-Error-Message: Invalid credentials in Authorization header`` for an unknown token.

The repo store is plain data (:class:`HubStore` -> :class:`HubRepo` -> :class:`Commit` ->
:class:`HubFile`), and routing is a table of :class:`Route` (method, path regex, handler function
taking ``(hub, request, **groups)``), so upload endpoints (create repo, preupload, commit, LFS) can be
added with :meth:`LocalHub.add_route` or by extending :data:`DOWNLOAD_ROUTES` without touching the
server loop.

huggingface_hub reads ``HF_ENDPOINT`` / ``HF_HUB_OFFLINE`` / ``HF_HUB_CACHE`` into
``huggingface_hub.constants`` once, at import. :meth:`LocalHub.activate` therefore sets the
environment variables (for subprocesses and code that reads them) *and* the matching ``constants``
attributes (for this process: ``hf_hub_download``, ``HfApi()`` and timm read them at call time) —
the same attributes huggingface_hub's own test-suite patches. The ``local_hub`` pytest fixture does
this per test, with a fresh empty cache under ``tmp_path``.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

# Files the Hub stores through LFS by default (huggingface.co's default .gitattributes), plus big ones.
LFS_SUFFIXES = frozenset(
    {".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".onnx", ".h5", ".msgpack", ".npy", ".npz", ".pkl"}
    | {".tar", ".gz", ".zip", ".tflite", ".ot", ".model", ".joblib", ".arrow", ".parquet"}
)
LFS_SIZE_THRESHOLD = 10 * 1024 * 1024
INVALID_CREDENTIALS = "Invalid credentials in Authorization header"


# --------------------------------------------------------------------------------------------------
# The repo store: repos -> commits -> files. Plain data, no HTTP.
# --------------------------------------------------------------------------------------------------


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob (what the Hub reports as ``oid`` / ``ETag`` for regular files)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The git-lfs pointer file the Hub keeps in git for an LFS file (its length is ``pointerSize``)."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


@dataclass(frozen=True)
class HubFile:
    """One file at one commit. ``served`` replaces the bytes sent on GET while every advertised digest
    and size stays that of ``data`` (a corrupted mirror or a man-in-the-middle, for tamper tests)."""

    path: str
    data: bytes
    lfs: bool
    served: bytes | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def git_oid(self) -> str:
        """The git blob id: of the content for regular files, of the LFS pointer for LFS files."""
        return git_blob_sha1(lfs_pointer(self.sha256, self.size) if self.lfs else self.data)

    @property
    def body(self) -> bytes:
        return self.data if self.served is None else self.served


@dataclass(frozen=True)
class Commit:
    sha: str
    files: Mapping[str, HubFile]
    message: str
    parent: str | None
    date: datetime


@dataclass
class HubRepo:
    """A repo: its commits by sha and its refs (branches and tags) -> commit sha."""

    repo_id: str
    repo_type: str = "model"
    private: bool = False
    gated: bool = False
    commits: dict[str, Commit] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> Commit | None:
        """A branch, tag or full commit sha -> the commit (``None`` if unknown)."""
        sha = self.refs.get(revision, revision)
        return self.commits.get(sha)

    def head(self, branch: str = "main") -> Commit | None:
        return self.resolve(branch)


def _as_bytes(content: bytes | str | Path) -> bytes:
    if isinstance(content, bytes):
        return content
    if isinstance(content, Path):
        return content.read_bytes()
    return content.encode()


@dataclass
class HubStore:
    """All repos served, keyed by ``(repo_type, repo_id)``, and the tokens the server accepts."""

    repos: dict[tuple[str, str], HubRepo] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    read_only_tokens: set[str] = field(default_factory=set)  # valid, but every write answers 403
    lfs_objects: dict[str, bytes] = field(default_factory=dict)  # sha256 -> uploaded, not yet committed
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def get(self, repo_id: str, repo_type: str = "model") -> HubRepo | None:
        return self.repos.get((repo_type, repo_id))

    def create_repo(
        self,
        repo_id: str,
        *,
        repo_type: str = "model",
        private: bool = False,
        gated: bool = False,
        exist_ok: bool = False,
    ) -> HubRepo:
        """An empty repo whose ``main`` has one initial commit with a ``.gitattributes`` (as on the Hub)."""
        with self.lock:
            key = (repo_type, repo_id)
            if key in self.repos:
                if exist_ok:
                    return self.repos[key]
                raise ValueError(f"repo {repo_id!r} exists")
            repo = HubRepo(repo_id=repo_id, repo_type=repo_type, private=private, gated=gated)
            self.repos[key] = repo
            self.commit(
                repo_id, {".gitattributes": _gitattributes()}, repo_type=repo_type, message="initial commit"
            )
            return repo

    def commit(
        self,
        repo_id: str,
        files: Mapping[str, bytes | str | Path | HubFile],
        *,
        repo_type: str = "model",
        branch: str = "main",
        message: str = "upload files",
        delete: tuple[str, ...] = (),
        lfs: bool | None = None,
    ) -> str:
        """A new commit on ``branch`` adding/replacing ``files`` (path in repo -> content) and removing
        ``delete``; returns its sha. ``lfs`` forces the storage kind; by default it follows the Hub's
        default ``.gitattributes`` (weights, archives, arrays) and the 10 MiB threshold."""
        with self.lock:
            repo = self.repos[(repo_type, repo_id)]
            parent = repo.refs.get(branch)
            tree = dict(repo.commits[parent].files) if parent else {}
            for path in delete:
                tree.pop(path, None)
            for path, content in files.items():
                if isinstance(content, HubFile):  # storage kind already decided (uploads)
                    tree[path] = replace(content, path=path)
                    continue
                data = _as_bytes(content)
                is_lfs = lfs if lfs is not None else is_lfs_path(path, len(data))
                tree[path] = HubFile(path=path, data=data, lfs=is_lfs)
            digest = hashlib.sha1(
                json.dumps([parent, message, sorted((p, f.git_oid) for p, f in tree.items())]).encode()
            )
            sha = digest.hexdigest()
            repo.commits[sha] = Commit(
                sha=sha, files=tree, message=message, parent=parent, date=datetime.now(UTC)
            )
            repo.refs[branch] = sha
            return sha

    def upload_folder(self, repo_id: str, folder: Path, **commit_kwargs: Any) -> str:
        """Commit every file under ``folder`` (relative POSIX paths)."""
        files = {
            p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
        }
        return self.commit(repo_id, files, **commit_kwargs)

    def tag(self, repo_id: str, tag: str, revision: str = "main", *, repo_type: str = "model") -> str:
        with self.lock:
            repo = self.repos[(repo_type, repo_id)]
            commit = repo.resolve(revision)
            if commit is None:
                raise KeyError(revision)
            repo.refs[tag] = commit.sha
            return commit.sha

    def corrupt(self, repo_id: str, path: str, revision: str = "main", *, repo_type: str = "model") -> None:
        """Serve ``path`` at ``revision`` with one byte flipped, same size, same advertised digests."""
        with self.lock:
            commit = self.repos[(repo_type, repo_id)].resolve(revision)
            assert commit is not None
            original = commit.files[path]
            body = bytearray(original.data)
            body[len(body) // 2] ^= 0xFF
            files = dict(commit.files)
            files[path] = replace(original, served=bytes(body))
            self.repos[(repo_type, repo_id)].commits[commit.sha] = replace(commit, files=files)


def is_lfs_path(path: str, size: int) -> bool:
    return PurePosixPath(path).suffix.lower() in LFS_SUFFIXES or size >= LFS_SIZE_THRESHOLD


def _gitattributes() -> bytes:
    return "".join(f"*{s} filter=lfs diff=lfs merge=lfs -text\n" for s in sorted(LFS_SUFFIXES)).encode()


# --------------------------------------------------------------------------------------------------
# Requests, responses and the route table.
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HubRequest:
    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # lower-cased names
    body: bytes

    @property
    def token(self) -> str | None:
        auth = self.headers.get("authorization", "")
        return auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else None

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def flag(self, name: str) -> bool:
        return self.query.get(name, ["false"])[-1].lower() in {"1", "true"}


@dataclass
class HubResponse:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> HubResponse:
        return cls(status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(obj).encode())

    @classmethod
    def error(
        cls, status: int, message: str, code: str | None = None, headers: Mapping[str, str] | None = None
    ) -> HubResponse:
        hdrs = {"X-Error-Message": message, **(headers or {})}
        if code:
            hdrs["X-Error-Code"] = code
        return cls.json({"error": message}, status=status, headers=hdrs)


Handler = Callable[..., HubResponse]


@dataclass(frozen=True)
class Route:
    """``method`` + a regex over the URL path (named groups become keyword arguments of ``handler``)."""

    method: str
    pattern: re.Pattern[str]
    handler: Handler

    @classmethod
    def of(cls, method: str, pattern: str, handler: Handler) -> Route:
        return cls(method, re.compile(pattern), handler)


_REPO = r"(?P<repo_id>[^/]+/[^/]+)"
_TYPE_PREFIX = r"(?:(?P<type_prefix>datasets|spaces)/)?"
_API_TYPE = r"(?P<api_type>models|datasets|spaces)"


def _repo_type(type_prefix: str | None = None, api_type: str | None = None) -> str:
    plural = type_prefix or api_type or "models"
    return plural[:-1]


def authorize(hub: LocalHub, request: HubRequest, repo_id: str, repo_type: str) -> HubRepo | HubResponse:
    """The repo if ``request`` may read it, else the error response the Hub sends."""
    token = request.token
    if token is not None and token not in hub.store.tokens:
        return HubResponse.error(401, INVALID_CREDENTIALS)
    repo = hub.store.get(repo_id, repo_type)
    if repo is None or (repo.private and token is None):
        return HubResponse.error(
            401, "Repository not found", "RepoNotFound"
        )  # the Hub does not reveal private repos
    if repo.gated and token is None:
        return HubResponse.error(401, "Access to this repo is restricted.", "GatedRepo")
    return repo


def _revision_or_error(repo: HubRepo, revision: str) -> Commit | HubResponse:
    commit = repo.resolve(unquote(revision))
    if commit is None:
        return HubResponse.error(404, f"Invalid rev id: {unquote(revision)}", "RevisionNotFound")
    return commit


def handle_resolve(
    hub: LocalHub,
    request: HubRequest,
    repo_id: str,
    revision: str,
    path: str,
    type_prefix: str | None = None,
) -> HubResponse:
    repo = authorize(hub, request, repo_id, _repo_type(type_prefix))
    if isinstance(repo, HubResponse):
        return repo
    commit = _revision_or_error(repo, revision)
    if isinstance(commit, HubResponse):
        return commit
    entry = commit.files.get(unquote(path))
    if entry is None:
        return HubResponse.error(404, "Entry not found", "EntryNotFound", {"X-Repo-Commit": commit.sha})
    headers = {
        "X-Repo-Commit": commit.sha,
        "ETag": f'"{entry.git_oid}"',
        "Accept-Ranges": "bytes",
        "Content-Type": "application/octet-stream",
        "Last-Modified": formatdate(commit.date.timestamp(), usegmt=True),
    }
    if entry.lfs:
        headers["X-Linked-Etag"] = f'"{entry.sha256}"'
        headers["X-Linked-Size"] = str(entry.size)
    body = entry.body
    status = 200
    start = _range_start(request.headers.get("range"))
    if start is not None and request.method == "GET":
        if start >= len(body):
            return HubResponse(416, {"Content-Range": f"bytes */{len(body)}"})
        headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
        body, status = body[start:], 206
    return HubResponse(status, headers, body)


def _range_start(header: str | None) -> int | None:
    match = re.fullmatch(r"bytes=(\d+)-", header or "")
    return int(match.group(1)) if match else None


def _siblings(commit: Commit) -> list[dict[str, Any]]:
    out = []
    for entry in sorted(commit.files.values(), key=lambda f: f.path):
        sib: dict[str, Any] = {"rfilename": entry.path, "blobId": entry.git_oid, "size": entry.size}
        if entry.lfs:
            sib["lfs"] = {
                "sha256": entry.sha256,
                "size": entry.size,
                "pointerSize": len(lfs_pointer(entry.sha256, entry.size)),
            }
        out.append(sib)
    return out


def handle_repo_info(
    hub: LocalHub,
    request: HubRequest,
    repo_id: str,
    api_type: str,
    revision: str = "main",
) -> HubResponse:
    repo = authorize(hub, request, repo_id, _repo_type(api_type=api_type))
    if isinstance(repo, HubResponse):
        return repo
    commit = _revision_or_error(repo, revision)
    if isinstance(commit, HubResponse):
        return commit
    return HubResponse.json(
        {
            "_id": hashlib.md5(repo_id.encode()).hexdigest()[:24],
            "id": repo_id,
            "author": repo_id.split("/")[0],
            "sha": commit.sha,
            "lastModified": commit.date.isoformat().replace("+00:00", "Z"),
            "private": repo.private,
            "gated": "auto" if repo.gated else False,
            "disabled": False,
            "tags": [],
            "downloads": 0,
            "likes": 0,
            "siblings": _siblings(commit),
        }
    )


def handle_tree(
    hub: LocalHub,
    request: HubRequest,
    repo_id: str,
    api_type: str,
    revision: str,
    path: str | None = None,
) -> HubResponse:
    repo = authorize(hub, request, repo_id, _repo_type(api_type=api_type))
    if isinstance(repo, HubResponse):
        return repo
    commit = _revision_or_error(repo, revision)
    if isinstance(commit, HubResponse):
        return commit
    prefix = unquote(path).strip("/") + "/" if path else ""
    recursive = request.flag("recursive")
    files, folders = [], set()
    for entry in commit.files.values():
        if not entry.path.startswith(prefix):
            continue
        rest = entry.path[len(prefix) :]
        parts = rest.split("/")
        for depth in range(1, len(parts)):  # every folder on the way (only the first unless recursive)
            if depth == 1 or recursive:
                folders.add(prefix + "/".join(parts[:depth]))
        if recursive or len(parts) == 1:
            files.append(entry)
    if path and not files and not folders:
        return HubResponse.error(404, f"{unquote(path)} does not exist", "EntryNotFound")
    listing: list[dict[str, Any]] = [
        {"type": "directory", "oid": git_blob_sha1(f.encode()), "size": 0, "path": f} for f in sorted(folders)
    ]
    for entry in sorted(files, key=lambda f: f.path):
        item: dict[str, Any] = {"type": "file", "oid": entry.git_oid, "size": entry.size, "path": entry.path}
        if entry.lfs:
            item["lfs"] = {
                "oid": entry.sha256,
                "size": entry.size,
                "pointerSize": len(lfs_pointer(entry.sha256, entry.size)),
            }
        listing.append(item)
    return HubResponse.json(listing)


DOWNLOAD_ROUTES: tuple[Route, ...] = (
    Route.of("GET", rf"^/api/{_API_TYPE}/{_REPO}/revision/(?P<revision>[^/]+)$", handle_repo_info),
    Route.of("GET", rf"^/api/{_API_TYPE}/{_REPO}/tree/(?P<revision>[^/]+)(?:/(?P<path>.+))?$", handle_tree),
    Route.of("GET", rf"^/api/{_API_TYPE}/{_REPO}$", handle_repo_info),
    Route.of("HEAD", rf"^/{_TYPE_PREFIX}{_REPO}/resolve/(?P<revision>[^/]+)/(?P<path>.+)$", handle_resolve),
    Route.of("GET", rf"^/{_TYPE_PREFIX}{_REPO}/resolve/(?P<revision>[^/]+)/(?P<path>.+)$", handle_resolve),
)


# --------------------------------------------------------------------------------------------------
# Upload endpoints: what HfApi.create_repo / create_commit / upload_folder send (huggingface_hub 2.x,
# read from hf_api.py, _commit_api.py and lfs.py). With hf_xet installed the client uploads LFS
# content through Xet storage; HF_HUB_DISABLE_XET=1 (huggingface_hub's documented switch) makes it use
# the plain LFS batch API served here. ``LocalHub.activate`` sets it.
#
# - POST /api/repos/create  {name, organization, visibility, type} -> {url}; 409 if it exists.
# - POST /api/validate-yaml {content, repoType}: the README front matter must be a YAML mapping.
# - POST /api/{type}s/{repo}/preupload/{rev}  {files: [{path, sample, size}]}
#   -> {files: [{path, uploadMode: lfs|regular, shouldIgnore, oid}]} (oid of the file at rev: sha256
#   for LFS, git blob sha1 otherwise, so the client drops unchanged files from the commit).
# - POST /{repo}.git/info/lfs/objects/batch  (git-lfs batch API, "basic" transfer) -> upload + verify
#   hrefs, or no actions for content the server already holds.
# - PUT /lfs-upload/{repo}/{oid} (the "S3" PUT), POST /{repo}.git/info/lfs/objects/verify.
# - POST /api/{type}s/{repo}/commit/{rev}  NDJSON: header {summary, description, parentCommit?} then
#   file (base64) | lfsFile {path, oid, size} | deletedFile | deletedFolder lines. The commit is all
#   or nothing: every line is checked before the branch moves; a stale parentCommit answers 412.
# Writes need a known token not in ``read_only_tokens`` (401 without / with an unknown one, 403 else).
# --------------------------------------------------------------------------------------------------


def authorize_write(hub: LocalHub, request: HubRequest, namespace: str) -> HubResponse | None:
    """``None`` if ``request`` may write under ``namespace``, else the Hub's 401 / 403 answer."""
    token = request.token
    if token is None:
        return HubResponse.error(401, "Invalid username or password.")
    if token not in hub.store.tokens:
        return HubResponse.error(401, INVALID_CREDENTIALS)
    if token in hub.store.read_only_tokens:
        return HubResponse.error(
            403, f"You don't have the rights to write to {namespace}: this token is read-only", "Forbidden"
        )
    return None


def _writable_repo(hub: LocalHub, request: HubRequest, repo_id: str, repo_type: str) -> HubRepo | HubResponse:
    denied = authorize_write(hub, request, repo_id)
    if denied is not None:
        return denied
    repo = hub.store.get(repo_id, repo_type)
    if repo is None:
        return HubResponse.error(404, "Repository not found", "RepoNotFound")
    return repo


def handle_create_repo(hub: LocalHub, request: HubRequest) -> HubResponse:
    body = request.json() or {}
    name, organization = body.get("name"), body.get("organization")
    if not name or not organization:
        return HubResponse.error(400, "name and organization are required")
    repo_id = f"{organization}/{name}"
    repo_type = body.get("type") or "model"
    denied = authorize_write(hub, request, organization)
    if denied is not None:
        return denied
    prefix = "" if repo_type == "model" else f"{repo_type}s/"
    url = f"{hub.endpoint}/{prefix}{repo_id}"
    if hub.store.get(repo_id, repo_type) is not None:
        return HubResponse.json({"error": "You already created this model repo", "url": url}, status=409)
    # huggingface_hub 2.x sends "visibility" (public | private | protected); 1.x sent "private"
    private = body.get("visibility") in {"private", "protected"} or bool(body.get("private"))
    hub.store.create_repo(repo_id, repo_type=repo_type, private=private)
    return HubResponse.json(
        {"url": url, "name": repo_id, "id": hashlib.md5(repo_id.encode()).hexdigest()[:24]}
    )


def handle_validate_yaml(hub: LocalHub, request: HubRequest) -> HubResponse:
    import yaml

    content = (request.json() or {}).get("content", "")
    match = re.match(r"^---\n(.*?)\n---\n", content, flags=re.DOTALL)
    if match is None:
        return HubResponse.json({"errors": [], "warnings": [{"message": "empty or missing yaml metadata"}]})
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as err:
        return HubResponse.json({"errors": [{"message": f"invalid YAML: {err}"}]}, status=400)
    if not isinstance(data, dict):
        return HubResponse.json({"errors": [{"message": "metadata must be a YAML mapping"}]}, status=400)
    return HubResponse.json({"errors": [], "warnings": []})


def _remote_oid(entry: HubFile | None, upload_mode: str) -> str | None:
    if entry is None or entry.lfs != (upload_mode == "lfs"):
        return None
    return entry.sha256 if entry.lfs else entry.git_oid


def handle_preupload(
    hub: LocalHub, request: HubRequest, repo_id: str, api_type: str, revision: str
) -> HubResponse:
    repo = _writable_repo(hub, request, repo_id, _repo_type(api_type=api_type))
    if isinstance(repo, HubResponse):
        return repo
    commit = _revision_or_error(repo, revision)
    if isinstance(commit, HubResponse):
        return commit
    answers = []
    for item in (request.json() or {}).get("files", []):
        mode = "lfs" if is_lfs_path(item["path"], int(item["size"])) else "regular"
        oid = _remote_oid(commit.files.get(item["path"]), mode)
        answers.append({"path": item["path"], "uploadMode": mode, "shouldIgnore": False, "oid": oid})
    return HubResponse.json({"files": answers})


def _known_lfs_content(hub: LocalHub, sha256: str) -> bytes | None:
    if sha256 in hub.store.lfs_objects:
        return hub.store.lfs_objects[sha256]
    for repo in hub.store.repos.values():
        for commit in repo.commits.values():
            for entry in commit.files.values():
                if entry.lfs and entry.sha256 == sha256:
                    return entry.data
    return None


def handle_lfs_batch(
    hub: LocalHub, request: HubRequest, repo_id: str, type_prefix: str | None = None
) -> HubResponse:
    repo = _writable_repo(hub, request, repo_id, _repo_type(type_prefix))
    if isinstance(repo, HubResponse):
        return repo
    body = request.json() or {}
    if body.get("operation") != "upload":
        return HubResponse.error(400, "only the upload operation is served")
    objects = []
    for obj in body.get("objects", []):
        oid, size = obj["oid"], int(obj["size"])
        answer: dict[str, Any] = {"oid": oid, "size": size}
        if _known_lfs_content(hub, oid) is None:
            answer["actions"] = {
                "upload": {"href": f"{hub.endpoint}/lfs-upload/{repo_id}/{oid}"},
                "verify": {"href": f"{hub.endpoint}/{repo_id}.git/info/lfs/objects/verify"},
            }
        objects.append(answer)
    return HubResponse(
        200,
        {"Content-Type": "application/vnd.git-lfs+json"},
        json.dumps({"transfer": "basic", "objects": objects, "hash_algo": "sha256"}).encode(),
    )


def handle_lfs_upload(hub: LocalHub, request: HubRequest, repo_id: str, oid: str) -> HubResponse:
    if hashlib.sha256(request.body).hexdigest() != oid:
        return HubResponse.error(400, "content does not match the announced sha256")
    hub.store.lfs_objects[oid] = request.body
    return HubResponse(200)


def handle_lfs_verify(hub: LocalHub, request: HubRequest, repo_id: str) -> HubResponse:
    body = request.json() or {}
    content = _known_lfs_content(hub, body.get("oid", ""))
    if content is None or len(content) != int(body.get("size", -1)):
        return HubResponse.error(404, "object not uploaded")
    return HubResponse.json({"success": True})


def handle_commit(
    hub: LocalHub, request: HubRequest, repo_id: str, api_type: str, revision: str
) -> HubResponse:
    import base64

    repo_type = _repo_type(api_type=api_type)
    repo = _writable_repo(hub, request, repo_id, repo_type)
    if isinstance(repo, HubResponse):
        return repo
    if request.flag("create_pr"):
        return HubResponse.error(400, "pull requests are not served by the local hub")
    branch = unquote(revision)
    head = repo.resolve(branch)
    if head is None or branch not in repo.refs:
        return HubResponse.error(404, f"Invalid rev id: {branch}", "RevisionNotFound")
    lines = [json.loads(line) for line in request.body.splitlines() if line.strip()]
    if not lines or lines[0].get("key") != "header":
        return HubResponse.error(400, "the first NDJSON line must be the commit header")
    header = lines[0]["value"]
    parent = header.get("parentCommit")
    if parent is not None and not head.sha.startswith(parent):
        return HubResponse.error(412, "A commit has happened since. Please refresh and try again.")
    # Check every operation before the branch moves: a failed commit changes nothing.
    added: dict[str, HubFile] = {}
    deleted: list[str] = []
    for line in lines[1:]:
        key, value = line.get("key"), line.get("value", {})
        path = value.get("path", "")
        if key == "file":
            added[path] = HubFile(path=path, data=base64.b64decode(value["content"]), lfs=False)
        elif key == "lfsFile":
            content = _known_lfs_content(hub, value["oid"])
            if content is None:
                return HubResponse.error(422, f"LFS object {value['oid']} for {path} was never uploaded")
            added[path] = HubFile(path=path, data=content, lfs=True)
        elif key == "deletedFile":
            if path not in head.files:
                return HubResponse.error(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
            deleted.append(path)
        elif key == "deletedFolder":
            prefix = path.rstrip("/") + "/"
            deleted.extend(p for p in head.files if p.startswith(prefix))
        else:
            return HubResponse.error(400, f"unknown commit operation {key!r}")
    message = header.get("summary") or ""
    if header.get("description"):
        message += "\n\n" + header["description"]
    sha = hub.store.commit(
        repo_id, added, repo_type=repo_type, branch=branch, message=message, delete=tuple(deleted)
    )
    prefix = "" if repo_type == "model" else f"{repo_type}s/"
    return HubResponse.json(
        {"commitUrl": f"{hub.endpoint}/{prefix}{repo_id}/commit/{sha}", "commitOid": sha, "success": True}
    )


_LFS_REPO = r"(?P<repo_id>[^/]+/[^/]+?)\.git/info/lfs/objects"

UPLOAD_ROUTES: tuple[Route, ...] = (
    Route.of("POST", r"^/api/repos/create$", handle_create_repo),
    Route.of("POST", r"^/api/validate-yaml$", handle_validate_yaml),
    Route.of("POST", rf"^/api/{_API_TYPE}/{_REPO}/preupload/(?P<revision>[^/]+)$", handle_preupload),
    Route.of("POST", rf"^/api/{_API_TYPE}/{_REPO}/commit/(?P<revision>[^/]+)$", handle_commit),
    Route.of("POST", rf"^/{_TYPE_PREFIX}{_LFS_REPO}/batch$", handle_lfs_batch),
    Route.of("POST", rf"^/{_TYPE_PREFIX}{_LFS_REPO}/verify$", handle_lfs_verify),
    Route.of("PUT", rf"^/lfs-upload/{_REPO}/(?P<oid>[0-9a-f]{{64}})$", handle_lfs_upload),
)

HUB_ROUTES: tuple[Route, ...] = DOWNLOAD_ROUTES + UPLOAD_ROUTES


# --------------------------------------------------------------------------------------------------
# The HTTP server.
# --------------------------------------------------------------------------------------------------


class _RequestHandler(BaseHTTPRequestHandler):
    server: _HubHTTPServer
    protocol_version = "HTTP/1.1"

    def _dispatch(self) -> None:
        hub = self.server.hub
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = HubRequest(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
        )
        hub.requests.append((request.method, split.path))
        response = hub.handle(request)
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _dispatch

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass


class _HubHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, hub: LocalHub) -> None:
        self.hub = hub
        super().__init__(("127.0.0.1", 0), _RequestHandler)


class _NoSleepTime:
    """The ``time`` module as huggingface_hub's HTTP backoff sees it, minus the waiting."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        pass


class LocalHub:
    """The store plus a server thread on 127.0.0.1 at a random port. Use as a context manager.

    ``requests`` records every ``(method, path)`` served, so tests can assert what went over the wire
    (e.g. that a cached fetch downloads nothing).
    """

    def __init__(self, store: HubStore | None = None, routes: tuple[Route, ...] = HUB_ROUTES) -> None:
        self.store = store or HubStore()
        self.routes: list[Route] = list(routes)
        self.requests: list[tuple[str, str]] = []
        self._server: _HubHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- routing ----------------------------------------------------------------------------------
    def add_route(self, method: str, pattern: str, handler: Handler) -> None:
        """Serve ``method pattern`` with ``handler(hub, request, **named_groups) -> HubResponse``."""
        self.routes.append(Route.of(method, pattern, handler))

    def handle(self, request: HubRequest) -> HubResponse:
        for route in self.routes:
            if route.method != request.method:
                continue
            match = route.pattern.match(request.path)
            if match:
                groups = {k: v for k, v in match.groupdict().items() if v is not None}
                with self.store.lock:
                    return route.handler(self, request, **groups)
        return HubResponse.error(404, f"no route for {request.method} {request.path}")

    # -- lifecycle --------------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LocalHub:
        self._server = _HubHTTPServer(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="local-hub", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down (later requests fail to connect, like a network outage)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LocalHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- pointing huggingface_hub at this server ----------------------------------------------------
    def activate(self, monkeypatch: pytest.MonkeyPatch, cache_dir: Path) -> None:
        """Route this process's huggingface_hub (and subprocesses, through the environment) here,
        online, with an empty cache at ``cache_dir``. Undone by ``monkeypatch`` at teardown."""
        import huggingface_hub.constants as constants
        import huggingface_hub.hf_api as hf_api
        import huggingface_hub.utils._http as hf_http

        endpoint = self.endpoint
        monkeypatch.setenv("HF_ENDPOINT", endpoint)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setenv("HF_HUB_CACHE", str(cache_dir))
        monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        # Uploads through the plain LFS batch API served here, not Xet storage (here and in subprocesses).
        monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
        monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
        monkeypatch.setattr(constants, "ENDPOINT", endpoint)
        monkeypatch.setattr(
            constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}"
        )
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache_dir))
        # The module-level HfApi behind `huggingface_hub.model_info` & co. froze the endpoint at import.
        monkeypatch.setattr(hf_api.api, "endpoint", endpoint)
        # On a connection error the client retries 5 times with 1+2+4+8+8 s of backoff: keep the
        # retries (real code path) but not the 23 s of sleeping.
        monkeypatch.setattr(hf_http, "time", _NoSleepTime())

    # -- convenience for tests ---------------------------------------------------------------------
    def add_repo(
        self,
        repo_id: str,
        files: Mapping[str, bytes | str | Path],
        *,
        private: bool = False,
        gated: bool = False,
        message: str = "add files",
    ) -> str:
        """Create ``repo_id`` with ``files`` committed on main; returns the commit sha."""
        self.store.create_repo(repo_id, private=private, gated=gated, exist_ok=True)
        return self.store.commit(repo_id, files, message=message)

    def add_token(self, token: str) -> str:
        self.store.tokens.add(token)
        return token

    def downloads(self, path_suffix: str = "") -> list[str]:
        """Paths of the GET requests on ``/resolve/`` ending with ``path_suffix``."""
        return [p for m, p in self.requests if m == "GET" and "/resolve/" in p and p.endswith(path_suffix)]


@pytest.fixture
def local_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[LocalHub]:
    """A running :class:`LocalHub` that this test's huggingface_hub talks to, online, with an empty
    cache at ``tmp_path / "hf-cache"`` (also exported as HF_HUB_CACHE for subprocesses)."""
    with LocalHub() as hub:
        hub.activate(monkeypatch, tmp_path / "hf-cache")
        yield hub
