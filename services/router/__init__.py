"""Router: the system of record: routing, alert state and the event log."""
