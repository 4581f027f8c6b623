"""The evaluation server's HTTP API on SQLite: submissions, refusals, auth, dedup, leaderboards."""

from __future__ import annotations

import csv
import io
import json
import struct
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from evaluator.server import ServerConfig, create_app
from evaluator.server.models import Base, Job, Submission
from evaluator.server.store import stored_files
from tests.server_helpers import finish_submission, make_token, result_document, safetensors_bytes
from zoo.errors import InvalidInputError


@pytest.fixture
def server(tmp_path):
    config = ServerConfig(home=tmp_path / "home", max_upload_bytes=64 * 1024, rate_limit_per_minute=1000)
    app = create_app(config)
    client = TestClient(app)
    alice = make_token(app.state.engine, "alice")
    bob = make_token(app.state.engine, "bob")
    admin = make_token(app.state.engine, "root", admin=True)
    return {
        "app": app,
        "client": client,
        "config": config,
        "engine": app.state.engine,
        "alice": {"Authorization": f"Bearer {alice}"},
        "bob": {"Authorization": f"Bearer {bob}"},
        "admin": {"Authorization": f"Bearer {admin}"},
    }


def upload(server, who, data: bytes, name="model.safetensors", **fields):
    form = {"task": "cifar10-c", "arch": "resnet18", **fields}
    return server["client"].post(
        "/api/submissions", data=form, files={"file": (name, data)}, headers=server[who] if who else {}
    )


def nothing_stored(server) -> bool:
    store = server["config"].store_dir
    with Session(server["engine"]) as s:
        no_rows = s.scalar(select(Submission.id)) is None and s.scalar(select(Job.id)) is None
    leftovers = list((store / "tmp").iterdir()) if (store / "tmp").exists() else []
    return no_rows and not stored_files(store) and not leftovers


def test_upload_is_content_addressed_queued_and_deduplicated(server):
    data = safetensors_bytes()
    first = upload(server, "alice", data, model_name="tiny")
    assert first.status_code == 201, first.text
    body = first.json()
    import hashlib

    digest = hashlib.sha256(data).hexdigest()
    assert body["weights_sha256"] == digest and body["status"] == "queued" and not body["duplicate"]
    stored = stored_files(server["config"].store_dir)
    assert [p.name for p in stored] == [f"{digest}.safetensors"]
    assert stored[0].read_bytes() == data

    # the same bytes under another name and user: deduplicated; another task: a new submission
    again = upload(server, "bob", data, name="other.safetensors")
    assert again.status_code == 200 and again.json()["duplicate"] and again.json()["id"] == body["id"]
    other_task = upload(server, "bob", data, task="imagenet-c")
    assert other_task.status_code == 201 and other_task.json()["id"] != body["id"]
    with Session(server["engine"]) as s:
        jobs = s.scalars(select(Job)).all()
        assert len(jobs) == 2 and {j.status for j in jobs} == {"queued"}
        assert jobs[0].payload["weights_sha256"] == digest and jobs[0].payload["arch"] == "resnet18"


def test_hub_submission_names_repo_and_links_model_card(server):
    r = server["client"].post(
        "/api/submissions",
        data={"task": "cifar10-c", "hub_repo": "rzoo/resnet50.augmix_in1k", "hub_revision": "abc123"},
        files={"unused": (None, "")},
        headers=server["alice"],
    )
    assert r.status_code == 201, r.text
    assert r.json()["model_card_url"] == "https://huggingface.co/rzoo/resnet50.augmix_in1k"
    # once evaluated, the Hub weights' sha256 (from the result) is recorded: the same weights uploaded
    # as a file by someone else appear once on the leaderboard, as the earlier submission
    import hashlib

    data = safetensors_bytes(7)
    digest = hashlib.sha256(data).hexdigest()
    uploaded = upload(server, "bob", data).json()
    hub_id = r.json()["id"]
    finish_submission(server["engine"], hub_id, result_document("hub", 0.9, 0.02, sha256=digest))
    finish_submission(server["engine"], uploaded["id"], result_document("file", 0.9, 0.02, sha256=digest))
    with Session(server["engine"]) as s:
        assert s.get(Submission, hub_id).weights_sha256 == digest
    rows = server["client"].get("/api/leaderboard/cifar10-c").json()["rows"]
    assert [row["submission_id"] for row in rows] == [hub_id]

    bad = server["client"].post(
        "/api/submissions",
        data={"task": "cifar10-c", "hub_repo": "../../etc/passwd"},
        files={"unused": (None, "")},
        headers=server["alice"],
    )
    assert bad.status_code == 400 and "invalid Hub repo" in bad.json()["detail"]


def _torch_pickle() -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save({"fc.weight": torch.ones(2)}, buf)
    return buf.getvalue()


def _raw_pickle() -> bytes:
    import pickle

    return pickle.dumps({"fc.weight": [1.0, 2.0]}, protocol=4)


@pytest.mark.parametrize(
    ("name", "make", "status", "message"),
    [
        ("model.safetensors", _torch_pickle, 422, "torch.save archive"),
        ("model.safetensors", _raw_pickle, 422, "pickle stream"),
        ("model.pth", lambda: safetensors_bytes(), 422, "pickled checkpoints are never loaded"),
        ("model.safetensors", lambda: safetensors_bytes()[:-5], 422, "outside the"),
        ("model.safetensors", lambda: safetensors_bytes()[:6], 422, "shorter than 8 bytes"),
        ("model.safetensors", lambda: safetensors_bytes() + b"\0" * 16, 422, "tensors cover"),
        (
            "model.safetensors",
            lambda: struct.pack("<Q", 10**12) + b"{}",
            422,
            "is impossible for a file of",
        ),
        ("../../evil.safetensors", lambda: safetensors_bytes(), 422, "refused file name"),
        ("sub/dir.safetensors", lambda: safetensors_bytes(), 422, "refused file name"),
        ("model.safetensors", lambda: safetensors_bytes() + b"\0" * (70 * 1024), 413, "size limit"),
    ],
    ids=[
        "torch-pickle",
        "raw-pickle",
        "pth-name",
        "truncated-data",
        "truncated-header",
        "trailing-bytes",
        "absurd-header",
        "dotdot-path",
        "dir-path",
        "over-limit",
    ],
)
def test_unsafe_uploads_are_refused_and_nothing_is_stored(server, name, make, status, message):
    r = upload(server, "alice", make(), name=name)
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert message in detail or (status == 413 and "limit" in detail)
    assert "upload-" not in detail  # names the user's file, not the server's temporary one
    assert nothing_stored(server)


def test_onnx_with_custom_op_domain_is_refused(server, tmp_path):
    import onnx
    from onnx import TensorProto, helper

    def model(domain: str) -> bytes:
        node = helper.make_node("Relu", ["x"], ["y"], domain=domain)
        graph = helper.make_graph(
            [node],
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
        )
        opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
        return helper.make_model(graph, opset_imports=opsets).SerializeToString()

    bad = upload(server, "alice", model("com.evil"), name="m.onnx")
    assert bad.status_code == 422 and "custom operators ['com.evil::Relu']" in bad.json()["detail"]
    assert nothing_stored(server)
    good = upload(server, "alice", model(""), name="m.onnx")
    assert good.status_code == 201 and good.json()["source"] == "onnx"
    with Session(server["engine"]) as s:
        assert s.scalar(select(Job)).payload["format"] == "onnx"
    onnx.checker.check_model(onnx.load_model_from_string(model("")))


def test_unauthenticated_and_wrong_user_requests_are_refused(server):
    client = server["client"]
    anon = upload(server, None, safetensors_bytes())
    assert anon.status_code == 401 and "token" in anon.json()["detail"]
    forged = upload(server, None, safetensors_bytes(), name="m.safetensors")
    assert forged.status_code == 401
    wrong = client.post(
        "/api/submissions",
        data={"task": "cifar10-c"},
        files={"file": ("m.safetensors", safetensors_bytes())},
        headers={"Authorization": "Bearer rzoo_not-a-real-token"},
    )
    assert wrong.status_code == 401
    assert nothing_stored(server)

    sub = upload(server, "alice", safetensors_bytes()).json()
    assert client.get(f"/api/submissions/{sub['id']}").status_code == 401
    # bob sees the status but not alice's log, cannot read the log, delete or requeue it
    seen_by_bob = client.get(f"/api/submissions/{sub['id']}", headers=server["bob"]).json()
    assert seen_by_bob["status"] == "queued" and "log" not in seen_by_bob
    assert client.get(f"/api/submissions/{sub['id']}/log", headers=server["bob"]).status_code == 403
    assert client.delete(f"/api/submissions/{sub['id']}", headers=server["bob"]).status_code == 403
    assert client.post(f"/api/submissions/{sub['id']}/requeue", headers=server["bob"]).status_code == 403
    assert client.get(f"/api/submissions/{sub['id']}/log", headers=server["alice"]).status_code == 200
    assert "log" in client.get(f"/api/submissions/{sub['id']}", headers=server["admin"]).json()
    assert client.post(f"/api/submissions/{sub['id']}/requeue", headers=server["admin"]).status_code == 200
    assert client.delete(f"/api/submissions/{sub['id']}", headers=server["alice"]).status_code == 204
    assert client.get(f"/api/submissions/{sub['id']}", headers=server["alice"]).status_code == 404


def test_tokens_are_stored_hashed(server):
    import hashlib

    from evaluator.server.models import ApiToken

    token = server["alice"]["Authorization"].split()[1]
    with Session(server["engine"]) as s:
        digests = [t.token_sha256 for t in s.scalars(select(ApiToken))]
    assert hashlib.sha256(token.encode()).hexdigest() in digests
    raw = server["config"].database_url.removeprefix("sqlite:///")
    from pathlib import Path

    assert token.encode() not in Path(raw).read_bytes()


def test_rate_limit_per_user(tmp_path):
    app = create_app(ServerConfig(home=tmp_path / "h", rate_limit_per_minute=3))
    client = TestClient(app)
    alice = {"Authorization": f"Bearer {make_token(app.state.engine, 'alice')}"}
    bob = {"Authorization": f"Bearer {make_token(app.state.engine, 'bob')}"}
    codes = [client.get("/api/me", headers=alice).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.get("/api/me", headers=alice)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert client.get("/api/me", headers=bob).status_code == 200  # per user, not global


def test_leaderboard_json_csv_and_results_with_escaped_names(server):
    client = server["client"]
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    a = upload(
        server, "alice", safetensors_bytes(1), model_name=evil, paper_url="https://arxiv.org/abs/1"
    ).json()
    b = upload(server, "bob", safetensors_bytes(2), model_name="=HYPERLINK(1)").json()
    finish_submission(server["engine"], a["id"], result_document(evil, 0.90, 0.05))
    assert [r["submission_id"] for r in client.get("/api/leaderboard/cifar10-c").json()["rows"]] == [a["id"]]
    finish_submission(server["engine"], b["id"], result_document("b", 0.80, 0.01))

    board = client.get("/api/leaderboard/cifar10-c").json()
    rows = board["rows"]
    assert [r["submission_id"] for r in rows] == [b["id"], a["id"]]  # ranked by mPC, b degrades less
    assert rows[0]["mPC"] > rows[1]["mPC"] and rows[0]["rank"] == 1
    doc = result_document("b", 0.80, 0.01)["metrics"]["top1"]
    assert rows[0]["clean"] == doc["clean"] and rows[0]["mPC"] == doc["mPC"] and rows[0]["rPC"] == doc["rPC"]
    noise = [doc["per_corruption"][c] for c in ("gaussian_noise", "shot_noise", "impulse_noise")]
    assert rows[0]["families"]["noise"] == pytest.approx(sum(noise) / 3, abs=1e-12)
    assert {r["evaluated_by"] for r in board["reported_by_authors"]} == {"authors"}
    assert all(r["evaluated_by"] == "rzoo" for r in rows)  # reported numbers never enter the ranking

    parsed = list(csv.DictReader(io.StringIO(client.get("/api/leaderboard/cifar10-c.csv").text)))
    assert [float(r["mPC"]) for r in parsed] == [r["mPC"] for r in rows]  # exact round trip
    assert parsed[0]["model_name"] == "'=HYPERLINK(1)"  # formula injection neutralised

    results = client.get(f"/api/submissions/{a['id']}/results").json()
    assert results["corrupted"]["fog"]["3"] == pytest.approx(0.90 - 0.15 - 0.09)
    assert client.get("/api/submissions/999/results").status_code == 404

    for page in ("/leaderboard/cifar10-c", f"/submissions/{a['id']}"):
        html = client.get(page).text
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    page = client.get(f"/submissions/{a['id']}").text
    assert page.count("<rect") >= 75 and "<polyline" in page and 'href="https://arxiv.org/abs/1"' in page

    # the transfer report's figures (evaluator.report) over the board's results, embedded on the page
    assert 'src="/leaderboard/cifar10-c/figures/severity.png"' in client.get("/leaderboard/cifar10-c").text
    for kind in ("severity", "heatmap", "transfer"):
        png = client.get(f"/leaderboard/cifar10-c/figures/{kind}.png")
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert png.content.startswith(b"\x89PNG\r\n\x1a\n") and len(png.content) > 5000
    assert client.get("/leaderboard/imagenet-c/figures/severity.png").status_code == 404

    # the cached board follows changes: a withdrawn submission leaves JSON, CSV and page at once
    assert client.delete(f"/api/submissions/{b['id']}", headers=server["bob"]).status_code == 204
    assert [r["submission_id"] for r in client.get("/api/leaderboard/cifar10-c").json()["rows"]] == [a["id"]]
    assert "HYPERLINK" not in client.get("/api/leaderboard/cifar10-c.csv").text
    assert "HYPERLINK" not in client.get("/leaderboard/cifar10-c").text


def test_javascript_paper_urls_are_refused(server):
    r = upload(server, "alice", safetensors_bytes(), paper_url="javascript:alert(1)")
    assert r.status_code == 400 and "http(s)" in r.json()["detail"]
    assert not list(Session(server["engine"]).scalars(select(Submission)))


def test_boards_show_author_reported_rows_apart(server):
    client = server["client"]
    board = client.get("/api/leaderboard/imagenet-c").json()
    reported = {r["model_name"]: r for r in board["reported_by_authors"]}
    from zoo import get_weights

    w = get_weights("resnet50.tv_in1k")
    assert reported[w.name]["imagenet_c_mce"] == w.metrics.imagenet_c_mce
    assert reported[w.name]["evaluated_by"] == "authors" and board["rows"] == []
    assert reported[w.name]["model_card_url"] == f"https://huggingface.co/{w.hub.repo_id}"
    unpublished = [get_weights(n) for n in reported if not get_weights(n).hub.is_published]
    assert all(reported[u.name]["model_card_url"] is None for u in unpublished)  # no dead links
    html = client.get("/leaderboard/imagenet-c").text
    assert "reported by authors" in html and html.count('class="reported"') == len(reported)
    downstream = client.get("/leaderboard/cifar10-c").text
    assert "upstream side of the transfer question, not cifar10-c scores" in downstream


def test_migrations_match_models_and_are_idempotent(server):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from evaluator.server.db import migrate

    migrate(server["engine"])  # a second run changes nothing
    with server["engine"].connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        assert set(inspect(conn).get_table_names()) >= {
            "users",
            "api_tokens",
            "submissions",
            "jobs",
            "results",
        }


def test_openapi_documents_the_api(server):
    spec = server["client"].get("/openapi.json").json()
    post = spec["paths"]["/api/submissions"]["post"]
    assert "multipart/form-data" in post["requestBody"]["content"]
    assert {
        "/api/leaderboard/{task}",
        "/api/leaderboard/{task}.csv",
        "/api/submissions/{submission_id}/results",
    } <= set(spec["paths"])
    json.dumps(spec)


def test_requeued_submission_rewrites_its_single_result_row(server):
    from evaluator.server.models import Result

    client = server["client"]
    sub = upload(server, "alice", safetensors_bytes(3)).json()
    finish_submission(server["engine"], sub["id"], result_document("m", 0.9, 0.05))
    first = client.get("/api/leaderboard/cifar10-c").json()["rows"][0]["mPC"]
    assert (
        client.post(f"/api/submissions/{sub['id']}/requeue", headers=server["admin"]).json()["status"]
        == "queued"
    )
    assert client.get("/api/leaderboard/cifar10-c").json()["rows"] == []  # not done: off the board
    finish_submission(server["engine"], sub["id"], result_document("m", 0.9, 0.01))
    with Session(server["engine"]) as s:
        assert len(s.scalars(select(Result).where(Result.submission_id == sub["id"])).all()) == 1
        job = s.scalar(select(Job).where(Job.submission_id == sub["id"]))
        assert job.status == "done" and job.attempts == 1  # a re-queue starts a fresh attempt budget
    (row,) = client.get("/api/leaderboard/cifar10-c").json()["rows"]
    assert row["mPC"] > first and row["mPC"] == result_document("m", 0.9, 0.01)["metrics"]["top1"]["mPC"]


def test_worker_on_another_host_fetches_weights_by_digest(server, tmp_path):
    import hashlib

    from evaluator.server.worker import Worker
    from tests.server_helpers import live_server

    data = safetensors_bytes(5)
    upload(server, "alice", data)
    with Session(server["engine"]) as s:
        payload = s.scalar(select(Job)).payload
    assert payload["weights_sha256"] == hashlib.sha256(data).hexdigest()
    remote = ServerConfig(home=tmp_path / "other-host")  # its own, empty store
    with pytest.raises(InvalidInputError, match="--server URL --token"):
        Worker(remote, server["app"].state.queue).checkpoint_for(payload)
    from tests.server_helpers import free_port

    down = ServerConfig(
        home=tmp_path / "other-host", server_url=f"http://127.0.0.1:{free_port()}", server_token="x"
    )
    with pytest.raises(InvalidInputError, match="cannot fetch weights"):
        Worker(down, server["app"].state.queue).checkpoint_for(payload)
    with live_server(server["app"]) as url:
        alice_token = server["alice"]["Authorization"].split()[1]
        as_alice = ServerConfig(home=tmp_path / "other-host", server_url=url, server_token=alice_token)
        with pytest.raises(InvalidInputError, match="HTTP 403"):
            Worker(as_alice, server["app"].state.queue).checkpoint_for(payload)
        assert not stored_files(remote.store_dir)
        admin_token = server["admin"]["Authorization"].split()[1]
        as_admin = ServerConfig(home=tmp_path / "other-host", server_url=url, server_token=admin_token)
        worker = Worker(as_admin, server["app"].state.queue)
        fetched = Path(worker.checkpoint_for(payload))
        assert fetched.parent.parent == remote.store_dir and fetched.read_bytes() == data
        missing = {**payload, "weights_sha256": "0" * 64}
        with pytest.raises(InvalidInputError, match="HTTP 404"):
            worker.checkpoint_for(missing)


def test_token_cli_prints_a_working_token_and_reports_bad_databases_in_one_line(server, tmp_path):
    from typer.testing import CliRunner

    from zoo.cli import app as cli

    home = str(server["config"].home)
    made = CliRunner().invoke(cli, ["token", "create", "erin", "--admin", "--home", home])
    assert made.exit_code == 0, made.output
    token = made.output.strip()
    assert token.startswith("rzoo_") and len(token) > 40
    me = server["client"].get("/api/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me == {"name": "erin", "is_admin": True}
    bad = CliRunner().invoke(cli, ["token", "create", "erin", "--db", "postgresql://nobody@127.0.0.1:1/x"])
    assert bad.exit_code == 1 and "error: cannot open the database" in bad.output
    assert "Traceback" not in bad.output
