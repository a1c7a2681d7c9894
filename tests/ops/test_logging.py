"""Structured logs: JSON lines with the request id, caller ids honoured or replaced, and no
secret (token, query string, password) ever written to a log."""

from __future__ import annotations

import json
import logging
import re

import pytest

from citydata.ops.logging import JsonFormatter, configure_logging
from citydata.settings import Settings
from tests.ops.conftest import access_lines
from tests.web.conftest import csrf_from

HEX_ID = re.compile(r"[0-9a-f]{32}")


def test_each_request_logs_one_json_access_line_with_its_id(client, log_lines):
    r = client.get("/api/3/action/package_list")
    assert r.status_code == 200
    request_id = r.headers["x-request-id"]
    assert HEX_ID.fullmatch(request_id)
    [line] = [x for x in access_lines(log_lines()) if x["request_id"] == request_id]
    assert line["level"] == "INFO"
    assert line["method"] == "GET" and line["status"] == 200
    assert line["route"] == "/api/3/action/{name}"  # the template, not the raw path
    assert line["client"] == "testclient"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])


def test_lines_logged_inside_a_request_carry_its_id(client, log_lines):
    # The 404 handler's page is rendered inside the request; an unhandled 500 is logged there.
    r = client.get("/no/such/page", headers={"X-Request-ID": "trace-42"})
    assert r.status_code == 404 and r.headers["x-request-id"] == "trace-42"
    [line] = access_lines(log_lines())
    assert line["request_id"] == "trace-42" and line["route"] == "unmatched"


def test_static_files_are_logged_under_their_mount(client, log_lines):
    r = client.get("/static/no-such-file.css")
    assert r.status_code == 404
    [line] = access_lines(log_lines())
    assert line["route"] == "/static/{path}"


@pytest.mark.parametrize("given", ["abc-123_X.y", "a" * 128])
def test_a_sane_incoming_request_id_is_kept(client, log_lines, given):
    r = client.get("/healthz", headers={"X-Request-ID": given})
    assert r.headers["x-request-id"] == given
    assert [x["request_id"] for x in access_lines(log_lines())] == [given]


@pytest.mark.parametrize("hostile", ["a" * 129, "x" * 500, "two words", "line\\nbreak",
                                     "semi;colon", "<script>", ""])
def test_a_hostile_incoming_request_id_is_replaced(client, log_lines, hostile):
    r = client.get("/healthz", headers={"X-Request-ID": hostile})
    assert HEX_ID.fullmatch(r.headers["x-request-id"])
    assert [x["request_id"] for x in access_lines(log_lines())] == [r.headers["x-request-id"]]
    assert hostile not in log_lines.raw() or hostile == ""


def _raw_get(base: str, header: bytes) -> str:
    import socket

    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-ID: " + header
                     + b"\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")


@pytest.mark.parametrize("header", [
    b'x"}, {"level": "CRITICAL", "injected": "1',  # an attempt to forge a JSON log field
    b"caf\xe9-\xff\xfe-injected",  # bytes that are not ASCII
])
def test_hostile_bytes_over_a_real_socket_are_replaced(live_server, log_lines, header):
    head = _raw_get(live_server, header)
    assert head.startswith("HTTP/1.1 200")
    echoed = re.search(r"(?im)^x-request-id: (.*)$", head)
    assert echoed and HEX_ID.fullmatch(echoed.group(1).strip())
    assert "injected" not in log_lines.raw()


@pytest.mark.parametrize("header", [b"evil\x01id\tinjected", b"a\r\n injected"])
def test_control_characters_and_line_breaks_never_reach_the_app(live_server, log_lines,
                                                                header):
    # The HTTP parser refuses them (a folded line, a control byte) before any of our code.
    assert _raw_get(live_server, header).startswith("HTTP/1.1 400")
    assert "injected" not in log_lines.raw()


def test_no_secret_reaches_the_log(client, seeded, log_lines):
    token = seeded["editor_token"]
    client.get("/api/3/action/package_list?api_key=secret-in-query",
               headers={"Authorization": token})
    client.get("/api/v1/events?access_token=another-secret",
               headers={"Authorization": f"Bearer {token}", "Cookie": "sid=cookie-secret"})
    page = client.get("/user/login")
    r = client.post("/user/login", data={"csrf_token": csrf_from(page.text),
                                         "username": "editor",
                                         "password": "form-password-secret"})
    assert r.status_code == 400  # a wrong password: logged as a failure, without it
    client.post("/user/login", data={"csrf_token": csrf_from(page.text),
                                     "username": "editor", "password": "editor-pass-1"})
    text = log_lines.raw()
    assert len(access_lines(log_lines())) == 6  # with the redirect after signing in
    for secret in (token, "secret-in-query", "another-secret", "cookie-secret",
                   "form-password-secret", "editor-pass-1", "api_key", "access_token",
                   csrf_from(page.text)):
        assert secret not in text


def test_extra_fields_and_exceptions_are_json_fields():
    record = logging.LogRecord("citydata.x", logging.ERROR, __file__, 1, "failed %s", ("job",),
                               None)
    record.feed = "camden"
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "failed job" and line["level"] == "ERROR"
    assert line["feed"] == "camden" and line["request_id"] == ""
    assert "ValueError: boom" in line["exception"]


def test_log_format_defaults_to_json_in_production_only(monkeypatch, tmp_path):
    key = "k" * 40
    assert Settings(home=tmp_path).log_format == "text"
    assert Settings(env="production", secret_key=key, home=tmp_path).log_format == "json"
    monkeypatch.setenv("CITYDATA_LOG_FORMAT", "text")
    assert Settings(env="production", secret_key=key, home=tmp_path).log_format == "text"
    monkeypatch.setenv("CITYDATA_LOG_FORMAT", "yaml")
    with pytest.raises(ValueError, match="log_format"):
        Settings(home=tmp_path)


def test_configure_logging_is_idempotent(tmp_path):
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    try:
        settings = Settings(home=tmp_path, log_format="json")
        configure_logging(settings)
        configure_logging(settings)
        ours = [h for h in root.handlers if getattr(h, "_citydata", False)]
        assert len(ours) == 1 and isinstance(ours[0].formatter, JsonFormatter)
        assert logging.getLogger("uvicorn.access").disabled
    finally:
        for h in list(root.handlers):
            if h not in before:
                root.removeHandler(h)
        root.setLevel(level)
        logging.getLogger("uvicorn.access").disabled = False
