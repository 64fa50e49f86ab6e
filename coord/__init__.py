"""The ``coord`` command: the composition root that runs and administers the services."""
