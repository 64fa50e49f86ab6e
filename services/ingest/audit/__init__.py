"""The event log over HTTP, for auditors (ingest reads it; the router alone writes it)."""
