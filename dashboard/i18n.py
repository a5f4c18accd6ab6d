"""Languages of the dashboard: Vietnamese by default, English; dates dd/mm/yyyy and times HH:MM in the school's zone.

The catalogues live in ``dashboard/translations/<lang>/LC_MESSAGES/messages.po`` with their compiled
``.mo`` beside them (both committed; ``tests/test_web_i18n.py`` fails when a ``.mo`` is stale). To update:

    pybabel extract -F dashboard/babel.cfg -o dashboard/translations/messages.pot dashboard
    pybabel update -i dashboard/translations/messages.pot -d dashboard/translations
    pybabel compile -d dashboard/translations
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, has_app_context, session
from flask_babel import Babel, get_locale, get_translations
from flask_babel import gettext as _
from flask_babel.speaklater import LazyString  # type: ignore[import-untyped]
from flask_login import current_user

from attendance.errors import AttendanceError, PhotoRejected

LANGUAGES = {"vi": "Tiếng Việt", "en": "English"}


def request_translations():  # noqa: ANN201 (babel.support.Translations)
    """The current request's translations, looked up once per request and locale.

    Flask-Babel looks them up again for every string (several context-local lookups and a locale-to-text
    conversion each); a roll page translates ~300 strings. Kept beside Flask-Babel's own per-request state, and
    looked up again when its locale changes (``force_locale``, ``refresh``).
    """
    if not has_app_context():  # Flask-Babel's NullTranslations
        return get_translations()
    state = g.get("_flask_babel")
    cached = getattr(state, "dashboard_translations", None)
    if cached is not None and cached[0] is getattr(state, "babel_locale", None):
        return cached[1]
    translations = get_translations()
    state = g._flask_babel
    state.dashboard_translations = (getattr(state, "babel_locale", None), translations)
    return translations


def _gettext(string: str, **variables) -> str:
    """Flask-Babel's ``gettext`` through ``request_translations``."""
    text = request_translations().ugettext(string)
    return text if not variables else text % variables


def _l(string: str, **variables) -> LazyString:
    """Flask-Babel's ``lazy_gettext``, translated through ``request_translations`` when used."""
    return LazyString(_gettext, string, **variables)


STATUS_LABELS = {
    "on_time": _l("On time"),
    "late": _l("Late"),
    "absent": _l("Absent"),
    "not_yet": _l("Not yet in"),
    "excused": _l("Excused"),
    "present_manual": _l("Present (marked)"),
    "present": _l("Present (marked)"),
    "no_school": _l("No school"),
}

MONTH_CODES = {  # one letter per day in the month report's grid (explained by its legend)
    "on_time": "✓",
    "late": _l("L (late)"),
    "absent": _l("A (absent)"),
    "excused": _l("E (excused)"),
    "present_manual": _l("P (marked present)"),
}

QUICK_REASONS = {  # the quick reasons beside a mark's free text, in the order shown
    "sick": _l("Sick"),
    "family": _l("Family matter"),
    "school_activity": _l("School activity"),
    "other": _l("Other"),
}

UNRECOGNISABLE_LABELS = {  # attendance.readiness.REASONS
    "no_consent": _l("No guardian consent"),
    "no_photo": _l("No photo"),
    "no_template": _l("No template for the model in use"),
    "marked_by_hand": _l("Marked present by hand while the cameras work"),
}

ROLE_LABELS = {
    "district_admin": _l("District admin"),
    "school_admin": _l("School admin"),
    "teacher": _l("Teacher"),
}

WEEKDAY_NAMES = {1: _l("Monday"), 2: _l("Tuesday"), 3: _l("Wednesday"), 4: _l("Thursday"), 5: _l("Friday"),
                 6: _l("Saturday"), 7: _l("Sunday")}
WEEKDAY_LABELS = {1: _l("Mon"), 2: _l("Tue"), 3: _l("Wed"), 4: _l("Thu"), 5: _l("Fri"), 6: _l("Sat"), 7: _l("Sun")}

PHOTO_REJECT_LABELS = {  # attendance.enrollment.REJECT_REASONS
    "unreadable": _l("The file is not a readable image."),
    "no_face": _l("No face was found in the photo."),
    "several_faces": _l("The photo shows several faces and none is clearly the main one."),
    "face_too_small": _l("The face is too small: come closer or use a larger photo."),
    "too_blurry": _l("The photo is too blurry."),
    "pose_not_frontal": _l("The head is turned too far: look straight at the camera."),
    "looks_like_other": _l("The face is very close to another student's: the same photo for two students, or twins?"),
    "consent_refused": _l("The guardian refused or withdrew consent to face recognition: record a new consent first."),
}

ERROR_LABELS = {
    "not_found": _l("Not found."),
    "conflict": _l("This clashes with what is stored (a duplicate code or name?)."),
    "invalid_input": _l("Some input is not valid."),
    "forbidden": _l("You may not do this."),
    "bad_image": _l("The file is not a readable image."),
    "model_error": _l("The face model is not available; ask the administrator."),
    "bad_setting": _l("A setting has a bad value."),
}


def init_i18n(app: Flask, default_language: str) -> Babel:
    """Set up Flask-Babel with the user's language, then the session's, then ``default_language``."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", default_language)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Ho_Chi_Minh")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = "translations"
    babel = Babel(app, locale_selector=select_language)
    # Flask-Babel's template gettext callables, with the translations looked up once per request
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: request_translations().ugettext(s),
        ngettext=lambda s, p, n: request_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: request_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: request_translations().unpgettext(c, s, p, n),
    )
    app.jinja_env.filters.update(dmy=format_date, hm=format_time, dmyhm=format_datetime)
    app.jinja_env.globals.update(
        get_locale=get_locale, LANGUAGES=LANGUAGES, STATUS_LABELS=STATUS_LABELS, ROLE_LABELS=ROLE_LABELS, WEEKDAY_LABELS=WEEKDAY_LABELS,
        WEEKDAY_NAMES=WEEKDAY_NAMES, MONTH_CODES=MONTH_CODES, QUICK_REASONS=QUICK_REASONS, UNRECOGNISABLE_LABELS=UNRECOGNISABLE_LABELS,
    )
    return babel


def select_language() -> str:
    if current_user and getattr(current_user, "is_authenticated", False):
        language = getattr(current_user, "language", "")
        if language in LANGUAGES:
            return language
    language = session.get("language")
    if language in LANGUAGES:
        return language
    return current_app.config.get("BABEL_DEFAULT_LOCALE", "vi")


def format_date(value: dt.date | dt.datetime | None, tz: str | None = None) -> str:
    """dd/mm/yyyy; a datetime is first moved to ``tz`` (the school's zone)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = _to_zone(value, tz).date()
    return value.strftime("%d/%m/%Y")


def format_time(value: dt.datetime | dt.time | None, tz: str | None = None) -> str:
    """HH:MM (24 h) in ``tz`` (the school's zone)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = _to_zone(value, tz)
    return value.strftime("%H:%M")


def format_datetime(value: dt.datetime | None, tz: str | None = None) -> str:
    if value is None:
        return ""
    return _to_zone(value, tz).strftime("%d/%m/%Y %H:%M")


def _to_zone(value: dt.datetime, tz: str | None) -> dt.datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(ZoneInfo(tz or "Asia/Ho_Chi_Minh"))


def describe_error(err: AttendanceError) -> str:
    """One translated sentence for a core exception, with the core's detail in brackets, in the page's
    language (``dashboard.error_text``): no English detail inside a Vietnamese sentence."""
    from dashboard.error_text import detail_for_page

    if isinstance(err, PhotoRejected):
        label = PHOTO_REJECT_LABELS.get(err.reason)
        if label:
            return str(label)
        detail = detail_for_page(err.message)
        return _("Photo refused: %(reason)s", reason=detail) if detail else _("Photo refused.")
    label = ERROR_LABELS.get(err.code, _l("Something went wrong."))
    detail = detail_for_page(err.message) if err.message else ""
    return f"{label} ({detail})" if detail else str(label)
