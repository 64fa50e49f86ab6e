"""Ingest: the public HTTP API and its read side."""
