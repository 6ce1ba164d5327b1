"""Who may call the API (CSRF, DNS rebinding), JSON-only answers, private runtime files (issue 9)."""

import json
import socket
import stat
import urllib.error
import urllib.request

import pytest

from labapp.api.app import create_app
from labapp.engine import task_records
from tests.support.waiting import wait_state


def submitted(cluster) -> int:
    """Tasks the API ever accepted (submit records; workers taking tasks do not change it)."""
    return sum(1 for _ in cluster.redis.scan_iter(match=task_records.SUBMIT_PREFIX + "*", count=1000))


def call(base_url, method, path, body: bytes | None = None, headers: dict | None = None):
    """One request with exactly these headers; return (status, headers, raw body)."""
    req = urllib.request.Request(base_url + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


JSON = {"Content-Type": "application/json"}


# ------------------------------------------------------------ CSRF: JSON bodies only
@pytest.mark.parametrize(
    "content_type, body",
    [
        ("text/plain", b'{"x": 1}'),  # what a cross-site fetch(..., {mode: "no-cors"}) can send
        ("application/x-www-form-urlencoded", b'{"x": 1}'),  # an HTML form
        (
            "multipart/form-data; boundary=zz",
            b'--zz\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--zz--\r\n',
        ),
        (None, b'{"x": 1}'),
    ],
)
def test_a_post_body_that_is_not_declared_json_is_refused_with_415(cluster, content_type, body):
    before = submitted(cluster)
    headers = {"Content-Type": content_type} if content_type else {}
    status, head, raw = call(cluster.api_url, "POST", "/longtask", body, headers)
    assert status == 415, raw
    assert head["Content-Type"] == "application/json"
    message = json.loads(raw)["error"]
    assert "-H 'Content-Type: application/json'" in message  # says what to add
    assert submitted(cluster) == before  # nothing was accepted


def test_json_with_a_charset_and_the_readme_curl_call_are_accepted(cluster):
    for headers in (JSON, {"Content-Type": "application/json; charset=utf-8"}, {**JSON, "Origin": cluster.api_url}):
        status, head, raw = call(cluster.api_url, "POST", "/factorial", b'{"n": 5}', headers)
        assert status == 202, raw
        assert head["Location"] == json.loads(raw)["status_url"]


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "https://evil.example:443", "null", "http://127.0.0.1.evil.example", "file://"]
)
def test_a_request_from_a_foreign_web_page_is_403(cluster, origin):
    before = submitted(cluster)
    status, _, raw = call(cluster.api_url, "POST", "/longtask", b'{"x": 1}', {**JSON, "Origin": origin})
    assert status == 403, raw
    assert "refused" in json.loads(raw)["error"]
    assert submitted(cluster) == before
    status, _, _ = call(cluster.api_url, "GET", "/workers", headers={"Origin": origin})
    assert status == 403


@pytest.mark.parametrize("origin", ["http://localhost:8888", "http://127.0.0.1:8888", "http://[::1]:8888"])
def test_a_loopback_origin_is_served(cluster, origin):
    status, _, raw = call(cluster.api_url, "GET", "/health", headers={"Origin": origin})
    assert status == 200, raw


# ------------------------------------------------------------ DNS rebinding: loopback Host only
@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:{port}",
        "127.0.0.1.nip.io:{port}",
        "localhost.evil.example",
        "bad host",
        "127.0.0.1:99999",
    ],
)
def test_a_foreign_host_is_refused_and_never_reflected(cluster, host):
    port = cluster.api_url.rsplit(":", 1)[1]
    for method, path, body in (("GET", "/workers", None), ("POST", "/factorial", b'{"n": 3}')):
        status, head, raw = call(cluster.api_url, method, path, body, {**JSON, "Host": host.format(port=port)})
        assert status == 400, raw
        assert "Location" not in head
        assert "is not served here" in json.loads(raw)["error"]
        assert b"evil" not in raw.split(b"answers only to")[1]  # no pid list, no link to the host


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}", "[::1]:{port}", "127.0.0.1"]
)
def test_loopback_hosts_are_served_and_links_use_them(cluster, client, host):
    port = cluster.api_url.rsplit(":", 1)[1]
    host = host.format(port=port)
    status, head, raw = call(cluster.api_url, "POST", "/factorial", b'{"n": 4}', {**JSON, "Host": host})
    assert status == 202, raw
    answer = json.loads(raw)
    assert answer["status_url"] == head["Location"]
    assert answer["status_url"].lower().startswith(f"http://{host.lower()}/status/")
    assert wait_state(client, answer["task_id"])["result"]["value"] == "24"


def test_a_request_without_host_gets_loopback_links(cluster):
    body = b'{"n": 3}'
    answer = raw_exchange(
        cluster.api_url,
        b"POST /factorial HTTP/1.0\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body),
    )
    head, raw = answer.split(b"\r\n\r\n", 1)
    assert b" 202 " in head.split(b"\r\n")[0]
    assert json.loads(raw)["status_url"].startswith(cluster.api_url + "/status/")


def test_a_public_cluster_serves_the_hosts_it_names_and_no_other(cluster):
    # the Flask app in this process, on the shared cluster's real broker
    settings = cluster.settings.with_(broker_url=cluster.broker_url, allowed_hosts="lab.example.edu, 10.0.0.5")
    web = create_app(settings).test_client()
    assert web.get("/health", headers={"Host": "lab.example.edu:5000"}).status_code == 200
    assert web.get("/health", headers={"Host": "10.0.0.5"}).status_code == 200
    assert web.get("/health", headers={"Host": "localhost"}).status_code == 200
    assert web.get("/health", headers={"Host": "evil.example"}).status_code == 400
    answer = web.post("/factorial", data=b'{"n": 3}', headers={**JSON, "Host": "lab.example.edu:5000"})
    assert answer.status_code == 202
    assert answer.json["status_url"].startswith("http://lab.example.edu:5000/status/")


# ------------------------------------------------------------ every answer of the app is JSON
def test_every_route_and_method_answers_json(cluster):
    app = create_app(cluster.settings.with_(broker_url=cluster.broker_url))
    paths = {
        rule.rule.replace("<task_id>", "no-such-task") for rule in app.url_map.iter_rules() if rule.endpoint != "static"
    }
    assert {"/longtask", "/factorial", "/health", "/openapi.json"} <= paths
    for path in sorted(paths | {"/nope", "/status/", "/" + "a" * 3000}):
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"):
            body = b"{}" if method in ("POST", "PUT", "PATCH") else None
            status, head, raw = call(cluster.api_url, method, path, body, JSON if body else {})
            assert head["Content-Type"] == "application/json", (method, path, status, raw[:200])
            assert status < 500, (method, path, status, raw[:200])
            json.loads(raw)


def test_options_lists_the_methods_in_json(cluster):
    status, head, raw = call(cluster.api_url, "OPTIONS", "/longtask")
    assert status == 200 and head["Content-Type"] == "application/json"
    assert json.loads(raw)["methods"] == ["OPTIONS", "POST"]
    assert head["Allow"] == "OPTIONS, POST"


def test_a_wrong_method_keeps_its_allow_header(cluster):
    status, head, raw = call(cluster.api_url, "GET", "/longtask")
    assert status == 405 and "not allowed" in json.loads(raw)["error"]
    assert "POST" in head["Allow"]


def raw_exchange(api_url: str, data: bytes) -> bytes:
    port = int(api_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    "data, status",
    [
        (b"GARBAGE\r\n\r\n", b"400 Bad Request"),
        (b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n", b"400 Bad Request"),
        (b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip\r\n\r\n", b"501 Not Implemented"),
    ],
)
def test_what_waitress_answers_before_the_app_is_as_documented(cluster, data, status):
    # docs/reliability.md lists these: plain text from waitress, the app never sees the request
    answer = raw_exchange(cluster.api_url, data)
    head = answer.split(b"\r\n\r\n", 1)[0]
    assert status in head.split(b"\r\n")[0]
    assert b"Content-Type: text/plain" in head


# ------------------------------------------------------------ private runtime folder
def test_the_runtime_folder_and_every_file_in_it_are_private(make_cluster):
    cluster = make_cluster(workers=1).start()
    assert wait_state(cluster.client, cluster.client.submit_factorial(30))["state"] == "SUCCESS"
    cluster.restart_broker()  # rewrites config, opens the AOF again
    assert stat.S_IMODE(cluster.dir.stat().st_mode) == 0o700
    found = list(cluster.dir.rglob("*"))
    assert any(p.name.endswith(".aof") for p in found) and any(p.name == "w1.log" for p in found)
    exposed = [f"{oct(stat.S_IMODE(p.stat().st_mode))} {p}" for p in found if stat.S_IMODE(p.stat().st_mode) & 0o077]
    assert not exposed, exposed
