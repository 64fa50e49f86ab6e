"""``python -m bench``: see bench/run.py."""

import os

from bench.run import main

# The benchmark runs on the published development secrets (COORD_ENV, shared/settings.py).
os.environ.setdefault("COORD_ENV", "development")
main()
