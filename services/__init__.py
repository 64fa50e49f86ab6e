"""The three services; each imports ``shared`` and never another service."""
