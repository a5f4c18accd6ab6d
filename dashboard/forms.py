"""Reading what browsers send: ids and numbers that fit the database, text it can store, typed values kept.

Every id in a URL or a form is checked here before it reaches a query: ``"²".isdigit()`` is True but
``int("²")`` fails, and an id past 2**31 - 1 fails on PostgreSQL (integer out of range) and on SQLite
(too large to bind). A form refused with a message comes back with what the person typed: the refused
fields are kept in the session for the next page (``remember_form``/``typed``), passwords never.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import g, request, session
from werkzeug.routing import IntegerConverter

from attendance.text import text_problem

MAX_DB_INT = 2**31 - 1
TYPED_KEY = "typed_form"
# Kept fields: a session cookie holds about 4 KB, so long values are not kept (the person still has them
# in the browser's history) and the whole is capped.
MAX_TYPED_VALUE_CHARS = 300
MAX_TYPED_TOTAL_CHARS = 1500
SECRET_FIELDS = ("password", "csrf_token", "token", "secret")


def parse_id(text: str | None) -> int | None:
    """A database id from ASCII digits (``"42"``), or None for anything else (``"²"``, ``"-1"``, ``"1e3"``,
    a number past 2**31 - 1)."""
    text = (text or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    value = int(text)
    return value if 0 < value <= MAX_DB_INT else None


def parse_ids(values: list[str]) -> list[int]:
    """The valid ids of a multi-valued field (checkboxes), others dropped."""
    return [value for value in map(parse_id, values) if value is not None]


class DatabaseIntConverter(IntegerConverter):
    """``<int:...>`` in URLs, limited to what an id column holds: a larger number is a 404, not a 500."""

    def __init__(self, map, *args: Any, **kwargs: Any) -> None:  # noqa: A002 (werkzeug's name)
        kwargs.setdefault("max", MAX_DB_INT)
        super().__init__(map, *args, **kwargs)


def request_text_problem() -> str | None:
    """Why the request's query or form holds text no column can store (a NUL, a lone surrogate), or None."""
    for source in (request.args, request.form):
        for key, value in source.items(multi=True):
            problem = text_problem(key, multiline=True) or text_problem(value, multiline=True)
            if problem:
                return f"the field {key[:40]!r} {problem}"
    return None


def remember_form(path: str) -> None:
    """Keep the refused form's fields (not passwords or tokens) for the page at ``path`` it goes back to."""
    kept: dict[str, str] = {}
    total = 0
    for key, value in request.form.items():
        if any(secret in key for secret in SECRET_FIELDS) or len(value) > MAX_TYPED_VALUE_CHARS:
            continue
        if text_problem(key, multiline=True) or text_problem(value, multiline=True):
            continue
        total += len(key) + len(value)
        if total > MAX_TYPED_TOTAL_CHARS:
            break
        kept[key] = value
    session[TYPED_KEY] = {"path": path, "fields": kept}


def same_site_referrer() -> str:
    """The path and query of the page that sent this request when it is on this site, else ""."""
    referrer = request.referrer or ""
    parts = urlsplit(referrer)
    if not referrer or parts.netloc != request.host:
        return ""
    return parts.path + (f"?{parts.query}" if parts.query else "")


def typed_values() -> dict[str, str]:
    """The fields kept by ``remember_form`` for this page (read once), else {}."""
    kept = session.pop(TYPED_KEY, None)
    if not isinstance(kept, dict):
        return {}
    return kept.get("fields", {}) if kept.get("path") == request.path else {}


def typed(name: str, default: Any = "") -> Any:
    """In templates: the value the person typed in field ``name`` of a form refused just now, else ``default``
    (``value="{{ typed('full_name', student.full_name) }}"``)."""
    if "typed_form" not in g:
        g.typed_form = typed_values()
    return g.typed_form.get(name, default)
