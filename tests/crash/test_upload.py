"""Kill -9 the real server in the middle of an upload: nothing half-written survives.

Two moments: while the body is still streaming into a staging file, and after the complete
file was moved into the store but before the row pointing at it was committed."""

from __future__ import annotations

import socket

import pytest

from tests.crash.conftest import Node, wait_for

pytestmark = pytest.mark.slow


def test_kill_mid_upload_leaves_no_resource_and_gc_cleans(node: Node, publisher: str):
    token = publisher
    proc = node.start()
    r = node.post("/api/3/action/package_create", token,
                  json={"name": "big-upload", "owner_org": "camden"})
    assert r.status_code == 200
    # Start a 20 MB multipart upload by hand, send 2 MB of it, then kill the server.
    boundary = "citydataboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="package_id"\r\n\r\n'
        f'big-upload\r\n--{boundary}\r\nContent-Disposition: form-data; name="upload"; '
        f'filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n'
    ).encode()
    sock = socket.create_connection(("127.0.0.1", node.port))
    try:
        sock.sendall(
            (
                f"POST /api/3/action/resource_create HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: {token}\r\nContent-Type: multipart/form-data; boundary={boundary}"
                f"\r\nContent-Length: {len(head) + 20_000_000}\r\n\r\n"
            ).encode()
            + head
        )
        for _ in range(32):
            sock.sendall(b"x" * 65536)
        staging = node.home / "files" / "tmp"
        wait_for(lambda: any(staging.glob("*.part")))
        assert any(staging.glob("*.part")), "the upload should be streaming to a staging file"
    finally:
        node.kill(proc)
        sock.close()

    node.start()
    shown = node.action("package_show", id="big-upload")
    assert shown["resources"] == []  # no half resource, no orphan row
    node.stop()
    assert node.blobs() == set()
    assert node.assert_recovered() == "Removed 1 staging files and 0 unreferenced files"


def test_kill_between_storing_the_file_and_committing_its_row(node: Node, publisher: str):
    proc = node.start(pause_at="upload-stored")
    assert node.post("/api/3/action/package_create", publisher,
                     json={"name": "minutes", "owner_org": "camden"}).status_code == 200
    body = b"%PDF-1.4\n% council minutes\n" * 100
    node.post_in_background("/api/3/action/resource_create", publisher,
                            data={"package_id": "minutes"},
                            files={"upload": ("minutes.pdf", body, "application/pdf")})
    node.kill_when_paused(proc, "upload-stored")
    assert len(node.blobs()) == 1  # the file reached the store; its row never committed

    node.start()
    assert node.action("package_show", id="minutes")["resources"] == []
    assert node.assert_recovered() == "Removed 0 staging files and 1 unreferenced files"
    # the same upload again works, and gc then keeps its file
    r = node.post("/api/3/action/resource_create", publisher, data={"package_id": "minutes"},
                  files={"upload": ("minutes.pdf", body, "application/pdf")})
    assert r.status_code == 200, r.text
    assert node.action("package_show", id="minutes")["resources"][0]["size"] == len(body)
    assert node.assert_recovered() == "Removed 0 staging files and 0 unreferenced files"

