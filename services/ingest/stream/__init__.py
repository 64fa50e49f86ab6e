"""The live stream: events fanned out to connected people under need-to-know (SSE)."""
