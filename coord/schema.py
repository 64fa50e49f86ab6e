"""All tables of the system, for migrations: each service declares its own."""

from __future__ import annotations

import services.ingest.message_tables
import services.ingest.recommendation_tables
import services.ingest.tables
import services.notifier.tables
import services.router.tables  # noqa: F401 - imported for their table declarations
import shared.directory_store  # noqa: F401 - router_directory_versions (read by every service)
from shared.db import Base

metadata = Base.metadata
