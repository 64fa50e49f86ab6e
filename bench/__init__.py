"""Benchmarks of coord against a raw aio-pika baseline on the same broker (``make bench``)."""
