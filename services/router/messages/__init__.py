"""Coordination messages in the router: address, record reads and acks, escalate."""
