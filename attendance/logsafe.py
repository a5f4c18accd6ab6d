"""Log lines that a logged value cannot forge: control characters escaped, long values cut.

A username with a newline once wrote a second, fake "login ok" line into the log. Every record's string
arguments (the ``%s`` values, which is how the project logs) pass through ``text.printable``: a newline
shows as ``\\n``, an escape sequence as ``\\x1b``, and a value is cut at ``MAX_LOGGED_CHARS``.
``install_safe_log_records()`` is called once by each program's start (CLI, dashboard, agent).
"""

from __future__ import annotations

import logging
from typing import Any

from attendance.text import printable

MAX_LOGGED_CHARS = 300
_installed = False


def install_safe_log_records() -> None:
    """Make every log record built from now on carry escaped, bounded string arguments. Idempotent."""
    global _installed
    if _installed:
        return
    base_factory = logging.getLogRecordFactory()

    def safe_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = base_factory(*args, **kwargs)
        record.args = _safe_args(record.args)
        return record

    logging.setLogRecordFactory(safe_record)
    _installed = True


def _safe_args(args: Any) -> Any:
    if isinstance(args, tuple):
        return tuple(printable(a, MAX_LOGGED_CHARS) if isinstance(a, str) else a for a in args)
    if isinstance(args, dict):
        return {k: printable(v, MAX_LOGGED_CHARS) if isinstance(v, str) else v for k, v in args.items()}
    return args
