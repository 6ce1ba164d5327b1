"""Raw HTTP for tests that send what a client library would refuse to."""

from __future__ import annotations

import json
import urllib.error
import urllib.request


def raw_request(
    base_url: str, method: str, path: str, body: bytes | None = None, content_type: str | None = "application/json"
):
    """Send raw bytes over HTTP; return (status, parsed JSON body, headers), whatever the status."""
    request = urllib.request.Request(
        base_url + path, data=body, method=method, headers={"Content-Type": content_type} if content_type else {}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read()), resp.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers
