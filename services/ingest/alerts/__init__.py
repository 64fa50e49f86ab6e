"""Alerts on ingest's side: accept a raised alert, stage commands on it, keep and read its view."""
