"""Benchmarks for citydata. Run ``make bench`` (``python -m bench.search_bench``); see README.md."""
