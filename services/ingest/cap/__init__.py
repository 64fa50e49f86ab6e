"""CAP 1.2 (OASIS Common Alerting Protocol): alerts out as CAP messages (docs/cap.md)."""
