"""Coordination messages on ingest's side: accept, stage reads and acks, keep and read the view."""
