"""Logs captured the way `switchboard serve` produces them: redaction installed, a real handler, DEBUG."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from switchboard.config import Settings
from switchboard.log_redaction import install_log_redaction

#: The line format `switchboard serve` configures.
SERVE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextmanager
def serve_logs(settings: Settings) -> Iterator[io.StringIO]:
    """Everything logged (root at DEBUG) while inside, as text, with serve's redaction of `settings`' secrets.

    The handler is added *after* redaction is installed, as a handler a library or an operator adds
    later would be: the records it receives must already be clean.
    """
    handle = install_log_redaction(settings)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(SERVE_FORMAT))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.setLevel(level)
        root.removeHandler(handler)
        handle.uninstall()
