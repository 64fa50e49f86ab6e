"""structlog set-up: JSON when not on a terminal, console otherwise.

The correlation id is bound with ``structlog.contextvars`` for every HTTP request
and every consumed message, so that each log line of that work carries it.
Libraries that log through the standard library (aio-pika, uvicorn, alembic)
are rendered by the same processors, so a JSON log stays JSON throughout.

No log line carries an alert's source (docs/design.md#source-protection): it is
sealed before it is written anywhere, and ``redact_sources`` blanks any ``source``
key that reaches a log line all the same.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from shared.settings import Settings

REDACTED = "[redacted]"
_SOURCE_KEY = "source"
_MAX_DEPTH = 8  # log values are shallow; this bounds the walk over an odd one


def _without_sources(value: Any, depth: int) -> Any:
    """``value`` with every mapping's ``source`` redacted, through mappings and lists."""
    if depth > _MAX_DEPTH:
        return value
    if isinstance(value, Mapping):
        return {
            key: REDACTED if key == _SOURCE_KEY else _without_sources(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_without_sources(item, depth + 1) for item in value]
    return value


def redact_sources(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A structlog processor: no ``source`` key (at any depth) reaches a log line.

    Defence in depth: a source is sealed at ingest, but a payload logged whole by
    mistake (say, of an ``alert.raised`` v1 from before sealing) must still not show it.
    """
    for key, value in list(event_dict.items()):
        event_dict[key] = REDACTED if key == _SOURCE_KEY else _without_sources(value, 1)
    return event_dict


def configure_logging(settings: Settings) -> None:
    """Configure structlog and the standard library logging once per process."""
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    use_json = settings.log_format == "json" or (
        settings.log_format == "auto" and not sys.stderr.isatty()
    )
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    shared_processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_sources,
    ]
    structlog.configure(
        processors=[
            *shared_processors,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared_processors,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    # Third-party libraries speak up only for warnings and errors.
    for noisy in ("aio_pika", "aiormq", "uvicorn", "alembic", "httpx"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
