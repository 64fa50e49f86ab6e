"""All tables of the system, for migrations: each service declares its own."""

from __future__ import annotations

import services.ingest.alerts.tables
import services.ingest.board.tables
import services.ingest.messages.tables
import services.ingest.recommendations.tables
import services.ingest.sms.tables
import services.ingest.tables
import services.notifier.tables
import services.router.alerts.tables
import services.router.messages.tables
import services.router.recommendations.tables
import services.router.tables  # noqa: F401 - imported for their table declarations
import shared.directory_store  # noqa: F401 - router_directory_versions (read by every service)
from shared.db import Base

metadata = Base.metadata
