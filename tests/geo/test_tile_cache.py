"""The in-process tile cache: answers once per (store, tile), bounded in bytes, keyed by what
the store holds rather than by object identity."""

from __future__ import annotations

from citydata.geo.featurestore import TileCache


class FakeStore:
    """Counts encodings; stands in for a feature store (only ``key`` and ``tile`` are used)."""

    def __init__(self, key: str, size: int = 100) -> None:
        self.key = key
        self.size = size
        self.calls = 0

    def tile(self, z, x, y, layer, max_features, hidden):  # type: ignore[no-untyped-def]
        self.calls += 1
        return f"{self.key}:{z}/{x}/{y}:{sorted(hidden)}".encode().ljust(self.size, b".")


def test_cached_per_store_tile_and_hidden_columns():
    cache = TileCache(max_bytes=10_000)
    a, b = FakeStore("a"), FakeStore("b")
    first = cache.get(a, 14, 1, 2, "layer", 100, frozenset())
    assert cache.get(a, 14, 1, 2, "layer", 100, frozenset()) == first and a.calls == 1
    assert cache.get(b, 14, 1, 2, "layer", 100, frozenset()).startswith(b"b:")
    hidden = cache.get(a, 14, 1, 2, "layer", 100, frozenset({"phone"}))
    assert b"phone" in hidden and a.calls == 2  # a reader with fewer columns gets its own tile
    # Another object for the same store data shares the cached tile.
    again = FakeStore("a")
    assert cache.get(again, 14, 1, 2, "layer", 100, frozenset()) == first and again.calls == 0


def test_bounded_in_bytes_oldest_out_first():
    cache = TileCache(max_bytes=1_000)
    store = FakeStore("s", size=100)
    for x in range(25):
        cache.get(store, 10, x, 0, "l", 10, frozenset())
    assert cache.size <= 1_000 and store.calls == 25
    cache.get(store, 10, 24, 0, "l", 10, frozenset())  # newest: still cached
    assert store.calls == 25
    cache.get(store, 10, 0, 0, "l", 10, frozenset())  # oldest: evicted, encoded again
    assert store.calls == 26
    big = FakeStore("big", size=500)  # more than an eighth of the budget: never kept
    cache.get(big, 1, 0, 0, "l", 10, frozenset())
    cache.get(big, 1, 0, 0, "l", 10, frozenset())
    assert big.calls == 2
