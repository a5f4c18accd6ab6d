"""Text from outside (forms, JSON, files): what no column can store, refused before it reaches the database.

PostgreSQL refuses a NUL character in any text or JSON value, and no database can encode a lone UTF-16
surrogate (``"\\ud800"``, which a JSON parser accepts) as UTF-8: either would fail the whole statement,
and with it every other row of a batch or field of a form. Other control characters (a newline in a name,
an escape sequence) are refused in one-line fields, since they forge log lines and break CSV exports.
"""

from __future__ import annotations

import re
import unicodedata

from attendance.errors import InvalidInput

LINE_BREAKS = frozenset("\n\r\t")
# every character of the categories refused below (Cc: U+0000-U+001F, U+007F-U+009F; Cs: the surrogates): text
# without any is storable, found by one regex search instead of a category look-up per character
_MAYBE_REFUSED = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why ``value`` cannot be stored (``"contains a NUL character"``...), or None when it can.

    ``multiline`` allows tabs and line breaks (a reason, a note); one-line fields allow no control character.
    """
    if _MAYBE_REFUSED.search(value) is None:
        return None
    for char in value:
        if char == "\x00":
            return "contains a NUL character"
        category = unicodedata.category(char)
        if category == "Cs":
            return "contains an unpaired surrogate (not valid Unicode)"
        if category == "Cc" and not (multiline and char in LINE_BREAKS):
            return "contains a control character"
    return None


def check_text(value: str, label: str, max_chars: int, *, min_chars: int = 0, multiline: bool = False) -> str:
    """``value`` when it is storable text of ``min_chars`` to ``max_chars`` characters; else ``InvalidInput``
    naming ``label`` (e.g. ``"the name"``). Does not strip or normalise: callers do that first."""
    problem = text_problem(value, multiline=multiline)
    if problem:
        raise InvalidInput(f"{label} {problem}")
    if not min_chars <= len(value) <= max_chars:
        raise InvalidInput(f"{label} must be {min_chars} to {max_chars} characters (it has {len(value)})")
    return value


def printable(value: object, max_chars: int = 200) -> str:
    """``value`` as one safe log line: control characters escaped (``\\n`` shows as ``\\\\n``), cut to
    ``max_chars`` with a marker, so a value cannot forge or flood a log line."""
    text = str(value)
    cut = len(text) > max_chars
    text = text[:max_chars]
    escaped = "".join(
        char.encode("unicode_escape").decode("ascii")
        if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp") else char
        for char in text)
    return escaped + ("…[cut]" if cut else "")
