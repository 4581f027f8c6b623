"""A real browser (Debian chromium driven by Playwright) on the web leaderboard."""

from __future__ import annotations

from pathlib import Path

import pytest

from evaluator.server import ServerConfig, create_app
from tests.server_helpers import (
    finish_submission,
    live_server,
    make_token,
    result_document,
    safetensors_bytes,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
EVIL = "<img src=x onerror=alert(1)>evil"
# (model name, clean, drop per severity): mPC order differs from clean order and from name order
MODELS = [("bravo", 0.95, 0.08), ("alpha", 0.80, 0.01), (EVIL, 0.90, 0.04), ("charlie", 0.70, 0.02)]


@pytest.fixture(scope="module")
def leaderboard_site(tmp_path_factory):
    from fastapi.testclient import TestClient

    home = tmp_path_factory.mktemp("browser")
    app = create_app(ServerConfig(home=home))
    token = make_token(app.state.engine, "alice")
    client = TestClient(app)
    ids = {}
    for seed, (name, clean, drop) in enumerate(MODELS):
        sub = client.post(
            "/api/submissions",
            data={"task": "cifar10-c", "arch": "resnet18", "model_name": name},
            files={"file": ("m.safetensors", safetensors_bytes(seed))},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        finish_submission(app.state.engine, sub["id"], result_document(name, clean, drop))
        ids[name] = sub["id"]
    board = client.get("/api/leaderboard/cifar10-c").json()["rows"]
    with live_server(app) as url:
        yield url, ids, board


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is missing: run .ci/setup (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def _column(page, index: int) -> list[str]:
    return page.eval_on_selector_all(
        "#leaderboard tbody tr", f"rows => rows.map(r => r.cells[{index}].textContent.trim())"
    )


def test_leaderboard_sorts_and_opens_a_submission(leaderboard_site, browser):
    url, ids, board = leaderboard_site
    page = browser.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    response = page.goto(f"{url}/leaderboard/cifar10-c")
    assert "script-src 'self'" in response.headers["content-security-policy"]  # sorting runs under it

    names = [page.locator("#leaderboard tbody tr .model-link").nth(i).inner_text() for i in range(4)]
    by_mpc = [r["model_name"] for r in board]  # server ranks by mPC, best first
    assert names == by_mpc
    assert EVIL in names  # shown as text, not as markup
    # the zoo's author-reported numbers sit in their own table, never among the ranked rows
    assert page.locator("#reported tbody tr.reported").count() > 0
    assert page.locator("#leaderboard tbody tr.reported").count() == 0

    headers = page.locator("#leaderboard thead th")
    clean_col = [headers.nth(i).inner_text().strip() for i in range(headers.count())].index("clean")
    names_before = _column(page, 1)
    headers.nth(clean_col).click()  # ascending
    clean_up = [float(v) for v in _column(page, clean_col)]
    assert clean_up == sorted(clean_up) and clean_up != [float(f"{100 * r['clean']:.2f}") for r in board]
    assert _column(page, 1) != names_before  # rows really moved
    headers.nth(clean_col).click()  # descending
    clean_down = [float(v) for v in _column(page, clean_col)]
    assert clean_down == sorted(clean_up, reverse=True)
    assert headers.nth(clean_col).get_attribute("aria-sort") == "descending"
    expected = sorted(MODELS, key=lambda m: -m[1])
    assert [page.locator("#leaderboard tbody tr .model-link").nth(i).inner_text() for i in range(4)] == [
        m[0] for m in expected
    ]

    page.locator("#leaderboard thead th", has_text="model").first.click()  # text column, A to Z
    plain = [n for n in (t.split()[0] for t in _column(page, 1)) if n in ("alpha", "bravo", "charlie")]
    assert plain == ["alpha", "bravo", "charlie"]

    page.get_by_role("link", name="bravo").click()
    page.wait_for_url(f"{url}/submissions/{ids['bravo']}")
    assert page.locator("h1").inner_text() == "bravo"
    assert page.locator("#heatmap rect").count() == 75  # 15 corruptions x 5 severities
    assert page.locator("#curves polyline").count() == 15
    first_cell = page.locator("#heatmap g title").first.text_content()
    assert first_cell.startswith("gaussian_noise, severity 1: ")
    mpc = next(r for r in board if r["model_name"] == "bravo")["mPC"]
    assert page.locator("#summary tbody td").nth(1).inner_text() == f"{100 * mpc:.2f}"

    page.goto(f"{url}/submissions/{ids[EVIL]}")
    assert page.locator("h1").inner_text() == EVIL
    assert page.locator("img").count() == 0 and dialogs == []  # no injected markup ran
    page.close()
