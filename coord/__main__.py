"""``python -m coord`` is the ``coord`` command."""

from coord.cli import app

app()
