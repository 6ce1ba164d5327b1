"""A small HTTP client for the lab's API: what a real front end (and the widgets) would use."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass


class ApiError(RuntimeError):
    """The API answered with an error; ``status`` is the HTTP code, the message is the API's."""

    def __init__(self, status: int, message: str, body: dict | None = None):
        super().__init__(message)
        self.status = status
        self.body = body or {}


@dataclass
class LabClient:
    """Calls the API at base_url and returns its JSON answers as dicts."""

    base_url: str
    timeout: float = 10.0

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        """Send one request; raise ApiError with the API's message on a 4xx/5xx."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base_url.rstrip("/") + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                answer = json.loads(raw)
            except ValueError:
                answer = {"error": raw.decode(errors="replace")}
            raise ApiError(exc.code, answer.get("error", f"HTTP {exc.code}"), answer) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiError(0, f"the API at {self.base_url} is unreachable: {reason}") from None

    def submit_longtask(self, x: float) -> str:
        """POST /longtask; return the task id."""
        return self.request("POST", "/longtask", {"x": x})["task_id"]

    def submit_factorial(self, n: int) -> str:
        """POST /factorial; return the task id."""
        return self.request("POST", "/factorial", {"n": n})["task_id"]

    def status(self, task_id: str) -> dict:
        """GET /status/<task_id>."""
        return self.request("GET", f"/status/{task_id}")

    def cancel(self, task_id: str) -> dict:
        """DELETE /tasks/<task_id> (cooperative cancel)."""
        return self.request("DELETE", f"/tasks/{task_id}")

    def workers(self) -> list[dict]:
        """GET /workers: the live workers."""
        return self.request("GET", "/workers")["workers"]

    def workers_report(self) -> dict:
        """GET /workers whole: the lab's live workers, and another app's on database 1 (``other_apps``)."""
        return self.request("GET", "/workers")

    def health(self) -> dict:
        """GET /health."""
        return self.request("GET", "/health")
