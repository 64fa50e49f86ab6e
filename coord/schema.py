"""All tables of the system, for migrations: each service declares its own."""

from __future__ import annotations

import services.ingest.tables
import services.notifier.tables
import services.router.tables  # noqa: F401 - imported for their table declarations
from shared.db import Base

metadata = Base.metadata
