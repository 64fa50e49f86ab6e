"""Code every service shares: contracts, bus, database, settings, logging."""
