"""rzoo data download cifar10-c against a local server speaking Zenodo's API and HTTP Range."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from evaluator.download import RemoteFile, fetch
from tests.evalkit import CIFAR_DATA_CONFIG, reference_top1, tiny_cnn, write_cifar10, write_cifar10_c
from zoo.cli import app
from zoo.errors import ChecksumError


def _tar(folder, inner: str, gz: bool) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tar:
        tar.add(folder / inner, arcname=inner)
    return buf.getvalue()


class _Server:
    """Serves files with Range support; ``cut_after`` drops the first full response midway."""

    def __init__(self, files: dict[str, bytes], api: dict[str, dict]) -> None:
        self.files, self.api, self.requests = files, api, []
        self.cut_after: int | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                if self.path in server.api:
                    body = json.dumps(server.api[self.path]).encode()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].split("=")[1].rstrip("-"))
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                if server.cut_after is not None and not self.headers.get("Range"):
                    self.wfile.write(data[: server.cut_after])
                    server.cut_after = None
                    self.wfile.flush()
                    self.connection.close()
                    return
                self.wfile.write(data[start:])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


@pytest.fixture
def release(tmp_path):
    """A CIFAR-10 test batch + CIFAR-10-C (fog) packed as the official archives, on a local server."""
    src = tmp_path / "src"
    images, labels = write_cifar10(src, n=12)
    arrays = write_cifar10_c(src, images, labels, ["fog"])
    c10 = _tar(src, "cifar-10-batches-py", gz=True)
    c10c = _tar(src, "CIFAR-10-C", gz=False)
    md5 = hashlib.md5(c10c).hexdigest()
    files = {"/cifar-10-python.tar.gz": c10, "/api/records/2535967/files/CIFAR-10-C.tar/content": c10c}
    server = _Server(files, {})
    server.api["/api/records/2535967"] = {
        "files": [
            {
                "key": "CIFAR-10-C.tar",
                "checksum": f"md5:{md5}",
                "size": len(c10c),
                "links": {"self": f"{server.url}/api/records/2535967/files/CIFAR-10-C.tar/content"},
            }
        ]
    }
    yield server, images, labels, arrays, hashlib.md5(c10).hexdigest()
    server.close()


def test_download_resumes_verifies_extracts_and_evaluates(tmp_path, release, monkeypatch) -> None:
    server, _, labels, arrays, c10_md5 = release
    monkeypatch.setenv("RZOO_ZENODO_URL", server.url)
    monkeypatch.setenv("RZOO_CIFAR10_URL", f"{server.url}/cifar-10-python.tar.gz")
    monkeypatch.setattr("evaluator.download.CIFAR10_MD5", c10_md5)
    server.cut_after = 1000  # the first transfer dies after 1000 bytes
    root = tmp_path / "data"
    first = CliRunner().invoke(app, ["data", "download", "cifar10-c", "--root", str(root), "--quiet"])
    assert first.exit_code == 1 and "run again to resume" in first.output
    part = root / "downloads" / "cifar-10-python.tar.gz.part"
    assert part.stat().st_size == 1000  # kept for the next run
    res = CliRunner().invoke(app, ["data", "download", "cifar10-c", "--root", str(root), "--quiet"])
    assert res.exit_code == 0, res.output
    assert ("/cifar-10-python.tar.gz", "bytes=1000-") in server.requests
    assert (root / "cifar-10-batches-py" / "test_batch").is_file()
    assert (root / "CIFAR-10-C" / "fog.npy").is_file() and not (root / "downloads").exists()

    # The downloaded data evaluates like the source files.
    from evaluator import EvalConfig
    from evaluator.engine import ModelUnderTest, evaluate_model
    from evaluator.results import CheckpointIdentity

    model = tiny_cnn()
    cfg = EvalConfig("m", "cifar10-c", root, corruptions=("fog",), severities=(2,), progress=False)
    result = evaluate_model(
        ModelUnderTest(model, CIFAR_DATA_CONFIG, "classifier", CheckpointIdentity("m")), cfg
    )
    assert result.primary.corrupted["fog"][2] == pytest.approx(
        reference_top1(model, arrays["fog"][12:24], labels)
    )


def test_checksum_mismatch_removes_the_file(tmp_path, release) -> None:
    server = release[0]
    remote = RemoteFile(f"{server.url}/cifar-10-python.tar.gz", "cifar-10-python.tar.gz", "0" * 32)
    with pytest.raises(ChecksumError, match="md5"):
        fetch(remote, tmp_path / "dl", progress=False)
    assert not list((tmp_path / "dl").iterdir())


def test_unknown_dataset_hint() -> None:
    res = CliRunner().invoke(app, ["data", "download", "cifar10c", "--root", "/tmp/x"])
    assert res.exit_code == 1 and "did you mean 'cifar10-c'" in res.output
