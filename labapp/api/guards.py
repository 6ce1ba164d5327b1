"""Who may call the API: loopback Host and Origin only (unless the cluster names more), JSON bodies only.

A web page the student visits can make the browser send requests to the
student's loopback API: form and text/plain POSTs need no CORS preflight
(cross-site request forgery), and a hostile DNS name that resolves to
127.0.0.1 lets that page read the answers (DNS rebinding). Browsers always
send Host, send Origin on cross-site POSTs, and cannot send a cross-site
``application/json`` body without a preflight that this API never approves.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Flask, jsonify, request

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
JSON_TYPE = "application/json"
_HOST = re.compile(r"^(?P<name>\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(?P<port>[0-9]{1,5}))?$")


def host_name(value: str | None) -> str | None:
    """The lower-cased name of a Host header without its port; None if it is no valid host."""
    match = _HOST.match((value or "").strip().lower())
    if not match or (match["port"] is not None and not 0 < int(match["port"]) < 65536):
        return None
    return match["name"]


def origin_host(origin: str) -> str | None:
    """The host name of an Origin header (IPv6 in brackets); None for 'null' or nonsense."""
    try:
        parts = urlsplit(origin.strip())
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    name = parts.hostname.lower()
    return f"[{name}]" if ":" in name else name


def allowed_hosts(extra: str = "") -> frozenset[str]:
    """Loopback names plus the comma-separated host names a public cluster gives."""
    named = {host_name(part) for part in extra.split(",") if part.strip()}
    return LOOPBACK_HOSTS | {name for name in named if name}


def _refuse(status: int, message: str):
    response = jsonify(error=message)
    response.status_code = status
    return response


def _loopback_host_by_default(wsgi_app):
    """An HTTP/1.0 request without Host gets 127.0.0.1:port, not waitress's placeholder, in links."""

    def app(environ, start_response):
        if not environ.get("HTTP_HOST"):
            environ["HTTP_HOST"] = f"127.0.0.1:{environ.get('SERVER_PORT', '80')}"
        return wsgi_app(environ, start_response)

    return app


def install(app: Flask, extra_hosts: str = "") -> None:
    """Check Host, Origin and Content-Type before any view runs; answer OPTIONS in JSON."""
    hosts = allowed_hosts(extra_hosts)
    shown = ", ".join(sorted(hosts))
    app.wsgi_app = _loopback_host_by_default(app.wsgi_app)

    @app.before_request
    def guard():
        raw_host = request.headers.get("Host")
        if host_name(raw_host) not in hosts:
            return _refuse(
                400,
                f"Host {raw_host!r} is not served here: this API answers only to "
                f"{shown} (a classroom cluster names its hosts in LABAPP_ALLOWED_HOSTS)",
            )
        origin = request.headers.get("Origin")
        if origin is not None and origin_host(origin) not in hosts:
            return _refuse(
                403,
                f"requests from the web page at {origin!r} are refused: this API "
                "serves only local clients (no cross-site requests)",
            )
        if request.url_rule is None:
            return None  # no such route or method: the 404/405 handlers answer
        if request.method == "OPTIONS":
            methods = sorted(request.url_rule.methods or ())
            response = jsonify(methods=methods)
            response.headers["Allow"] = ", ".join(methods)
            return response
        if request.method in BODY_METHODS and request.mimetype != JSON_TYPE:
            got = request.content_type or "no Content-Type header"
            return _refuse(
                415,
                f"the request body must be JSON with the header 'Content-Type: "
                f"application/json' (got {got}); with curl add "
                "-H 'Content-Type: application/json'",
            )
        return None
