"""The translation catalogues: every message of the dashboard is in Vietnamese, and the .mo files are current."""

from __future__ import annotations

import datetime as dt
import gettext
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from conftest import REPO_ROOT

DASHBOARD = REPO_ROOT / "dashboard"
TRANSLATIONS = DASHBOARD / "translations"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def source_messages() -> set[str]:
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(DASHBOARD), method_map=method_map, keywords=KEYWORDS):
        found.add(message if isinstance(message, str) else message[0])
    return found


def load_po(language: str):
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh)


def test_every_message_has_a_vietnamese_translation():
    catalog = load_po("vi")
    untranslated = sorted(m for m in source_messages() if not (catalog.get(m) and catalog.get(m).string))
    assert not untranslated, f"run pybabel extract/update and translate: {untranslated[:10]}"


def test_placeholders_survive_translation():
    import re

    for message in load_po("vi"):
        if message.id and message.string:
            assert set(re.findall(r"%\(\w+\)", message.id)) == set(re.findall(r"%\(\w+\)", message.string)), message.id


def test_compiled_catalogues_match_their_po_files():
    for language in ("vi", "en"):
        catalog = load_po(language)
        with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.mo").open("rb") as fh:
            compiled = gettext.GNUTranslations(fh)
        for message in catalog:
            if message.id and message.string:
                assert compiled.gettext(message.id) == message.string, f"stale {language} .mo: run pybabel compile"


def test_dates_and_times_are_dd_mm_yyyy_and_hh_mm_in_the_schools_zone():
    from dashboard.i18n import format_date, format_datetime, format_time

    at = dt.datetime(2026, 3, 8, 23, 41, tzinfo=dt.timezone.utc)  # 06:41 on 9 March in Ho Chi Minh
    assert format_date(at, "Asia/Ho_Chi_Minh") == "09/03/2026"
    assert format_time(at, "Asia/Ho_Chi_Minh") == "06:41"
    assert format_datetime(at, "Asia/Ho_Chi_Minh") == "09/03/2026 06:41"
    assert format_date(dt.date(2026, 1, 2)) == "02/01/2026"
    assert format_time(dt.time(7, 5)) == "07:05"
    assert format_time(None) == ""


def test_babel_cfg_covers_python_and_templates():
    text = Path(DASHBOARD / "babel.cfg").read_text(encoding="utf-8")
    assert "[python: dashboard/**.py]" in text and "[jinja2: dashboard/templates/**.html]" in text
