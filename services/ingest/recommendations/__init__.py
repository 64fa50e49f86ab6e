"""Recommendations on ingest's side: accept, stage answers, keep and read the view."""
