"""The client behind ``rzoo submit``: upload a checkpoint, optionally wait for its results."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from zoo.errors import InvalidInputError, RzooError


class ServerError(RzooError):
    """The evaluation server refused a request or is unreachable."""


class Client:
    def __init__(self, server: str, token: str, timeout: float = 60.0) -> None:
        import httpx

        self.http = httpx.Client(
            base_url=server.rstrip("/"), headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )

    def _check(self, response) -> Any:
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ServerError(f"server answered {response.status_code}: {detail}")
        return response.json()

    def submit_file(
        self,
        path: Path,
        task: str,
        *,
        arch: str | None = None,
        model_name: str | None = None,
        paper_url: str | None = None,
    ) -> dict[str, Any]:
        if not path.is_file():
            raise InvalidInputError(f"no such checkpoint file: {path}")
        data = {
            k: v
            for k, v in {"task": task, "arch": arch, "model_name": model_name, "paper_url": paper_url}.items()
            if v
        }
        with path.open("rb") as fh:
            return self._request("POST", "/api/submissions", data=data, files={"file": (path.name, fh)})

    def submit_hub(self, repo: str, revision: str, task: str, **fields: str | None) -> dict[str, Any]:
        data = {
            "task": task,
            "hub_repo": repo,
            "hub_revision": revision,
            **{k: v for k, v in fields.items() if v},
        }
        return self._request("POST", "/api/submissions", data=data, files={"_": (None, "")})

    def submission(self, submission_id: int) -> dict[str, Any]:
        return self._request("GET", f"/api/submissions/{submission_id}")

    def results(self, submission_id: int) -> dict[str, Any]:
        return self._request("GET", f"/api/submissions/{submission_id}/results")

    def wait(
        self, submission_id: int, poll_seconds: float = 2.0, timeout_s: float | None = None
    ) -> dict[str, Any]:
        start = time.monotonic()
        while True:
            sub = self.submission(submission_id)
            if sub["status"] == "done":
                return self.results(submission_id)
            if sub["status"] == "failed":
                raise ServerError(
                    f"submission {submission_id} failed: {(sub.get('error') or '').strip()[:2000]}"
                )
            if timeout_s is not None and time.monotonic() - start > timeout_s:
                raise ServerError(f"submission {submission_id} still {sub['status']} after {timeout_s:.0f} s")
            time.sleep(poll_seconds)

    def _request(self, method: str, url: str, **kwargs) -> Any:
        import httpx

        try:
            return self._check(self.http.request(method, url, **kwargs))
        except httpx.HTTPError as err:
            raise ServerError(f"cannot reach {self.http.base_url}: {err}") from err
