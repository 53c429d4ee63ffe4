"""Logging set-up: structlog key-value events on stderr, configured once by the CLI."""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(*, level: str = "warning", json: bool = False) -> None:
    """Route structlog and stdlib logging to stderr; stdout is kept for reports."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # A line below the level is dropped before any processor runs (the API logs every request).
    chain: list[structlog.types.Processor] = [
        structlog.stdlib.filter_by_level,
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*chain, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    logging.basicConfig(handlers=[handler], level=level.upper(), force=True)
    # trafilatura and its helpers warn on every discarded page: not the user's concern.
    for noisy in ("trafilatura", "htmldate", "courlan", "justext", "charset_normalizer"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
