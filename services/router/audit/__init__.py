"""Auditors' readings of the event log: replay every subject, explain one alert."""
