"""The file store: streamed, hashed, size-limited, atomic, and garbage-collected."""

from __future__ import annotations

import hashlib
import os

import pytest

from citydata.errors import PayloadTooLarge
from citydata.storage.files import FileStore


def test_stage_hash_commit_dedupe(tmp_path):
    store = FileStore(tmp_path)
    data = b"x" * 3_000_000
    staged = store.stage(iter([data[:1_000_000], data[1_000_000:]]), max_bytes=10_000_000)
    assert staged.sha256 == hashlib.sha256(data).hexdigest() and staged.size == len(data)
    store.commit(staged)
    assert store.exists(staged.sha256)
    again = store.stage(iter([data]), max_bytes=10_000_000)
    store.commit(again)
    assert list(store.iter_blobs()) == [staged.sha256]
    assert list(store.tmp_dir.iterdir()) == []
    assert b"".join(store.iter_bytes(staged.sha256)) == data


def test_limit_aborts_and_leaves_nothing(tmp_path):
    store = FileStore(tmp_path)
    with pytest.raises(PayloadTooLarge):
        store.stage(iter([b"a" * 600, b"b" * 600]), max_bytes=1000)
    assert list(store.tmp_dir.iterdir()) == []


def test_crash_mid_stream_leaves_nothing(tmp_path):
    store = FileStore(tmp_path)

    def broken():
        yield b"partial"
        raise ConnectionError("client went away")

    with pytest.raises(ConnectionError):
        store.stage(broken(), max_bytes=1000)
    assert list(store.tmp_dir.iterdir()) == []


def test_garbage_collection(tmp_path):
    store = FileStore(tmp_path)
    kept = store.stage(iter([b"keep"]), max_bytes=100)
    store.commit(kept)
    lost = store.stage(iter([b"orphan"]), max_bytes=100)
    store.commit(lost)
    os.utime(store.blob_path(lost.sha256), (0, 0))
    committing = store.stage(iter([b"row not committed yet"]), max_bytes=100)
    store.commit(committing)  # an upload whose row is about to commit: young, so kept
    stale = store.tmp_dir / "dead.part"  # what a killed upload leaves behind
    stale.write_bytes(b"half")
    os.utime(stale, (0, 0))
    removed = store.collect_garbage({kept.sha256})
    assert removed == {"tmp": 1, "blobs": 1}
    assert sorted(store.iter_blobs()) == sorted([kept.sha256, committing.sha256])


def test_reuploading_an_orphan_makes_it_young_again(tmp_path):
    store = FileStore(tmp_path)
    first = store.stage(iter([b"same bytes"]), max_bytes=100)
    store.commit(first)
    os.utime(store.blob_path(first.sha256), (0, 0))  # an old orphan
    again = store.stage(iter([b"same bytes"]), max_bytes=100)
    store.commit(again)  # deduplicated onto the orphan, whose row is about to commit
    assert store.collect_garbage(set()) == {"tmp": 0, "blobs": 0}
    assert store.exists(first.sha256)


def test_blob_path_rejects_traversal(tmp_path):
    from citydata.errors import NotFound

    store = FileStore(tmp_path)
    for bad in ("../../etc/passwd", "a" * 63 + "/", "Z" * 64):
        with pytest.raises(NotFound):
            store.blob_path(bad)
