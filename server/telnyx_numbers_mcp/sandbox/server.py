"""Run the simulator over HTTP with uvicorn; all logging goes to stderr so stdout stays clean."""

from __future__ import annotations

import logging
import sys

import uvicorn

from .app import create_app
from .core import Sandbox


def serve(host: str = "127.0.0.1", port: int = 4010, sandbox: Sandbox | None = None) -> None:
    """Block serving the sandbox until interrupted."""
    sb = sandbox or Sandbox()
    log_config = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "plain"}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
            "uvicorn.access": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        },
    }
    logging.getLogger("telnyx_numbers_mcp.sandbox").addHandler(logging.StreamHandler(sys.stderr))
    try:
        uvicorn.run(create_app(sb), host=host, port=port, log_config=log_config)
    finally:
        sb.close()
