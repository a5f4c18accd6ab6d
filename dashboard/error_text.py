"""The core's error details in the page's language.

The core raises English messages ("student code 'HS 1' must be 1-32 letters, ..."); a page in Vietnamese must
not show them inside a Vietnamese sentence. Each detail a page can meet is matched here by a pattern and
rewritten from a translated template with the pattern's named parts (codes, names and numbers stay as they
are). A detail no pattern knows is shown only in English pages; other languages get the error's general label.
"""

from __future__ import annotations

import re

from flask_babel import get_locale, lazy_gettext as _l

_Q = r"'?(?P<{}>.*?)'?"  # a value the core may have quoted with !r


def _pattern(text: str) -> re.Pattern[str]:
    return re.compile("^" + text + "$", re.S)


DETAILS: list[tuple[re.Pattern[str], object]] = [(_pattern(p), t) for p, t in [
    # web forms (dashboard/web)
    (r"class (?P<code>.+) already exists", _l("class %(code)s already exists")),
    (r"a class code must be 1 to 32 characters", _l("a class code must be 1 to 32 characters")),
    (r"the grade is a number from 1 to 12", _l("the grade is a number from 1 to 12")),
    (r"the school name must be 1 to 200 characters", _l("the school name must be 1 to 200 characters")),
    (r"unknown time zone " + _Q.format("zone"), _l("unknown time zone %(zone)s")),
    (r"choose at least one school day", _l("choose at least one school day")),
    (r"the on-time cutoff must not be after the absence cutoff",
     _l("the on-time cutoff must not be after the absence cutoff")),
    (r"give a first day and a last day \(at most 120 days apart\)",
     _l("give a first day and a last day (at most 120 days apart)")),
    (r"time " + _Q.format("text") + r" is not HH:MM", _l("time %(text)s is not HH:MM")),
    (r"unknown class", _l("unknown class")),
    (r"the name is empty", _l("the name is empty")),
    (r"student code (?P<code>\S+) is already in use", _l("student code %(code)s is already in use")),
    (r"choose a \.csv or \.xlsx file", _l("choose a .csv or .xlsx file")),
    (r"choose one or more photos", _l("choose one or more photos")),
    (r"the two passwords differ", _l("the two passwords differ")),
    (r"you cannot deactivate yourself", _l("you cannot deactivate yourself")),
    (r"the target FPIR " + _Q.format("text") + r" is not a number", _l("the target FPIR %(text)s is not a number")),
    (r"the target FPIR must be between 0 and 1", _l("the target FPIR must be between 0 and 1")),
    (r"the school has no templates of model " + _Q.format("model"), _l("the school has no templates of model %(model)s")),
    (r"the school has no templates yet", _l("the school has no templates yet")),
    (r"a face refused as a suspected photo cannot be enrolled; dismiss it instead",
     _l("a face refused as a suspected photo cannot be enrolled; dismiss it instead")),
    (r"the student is not on this class's roll that day", _l("the student is not on this class's roll that day")),
    (r"a day in the future cannot be marked", _l("a day in the future cannot be marked")),
    (r"the check-in is not of a student of this class", _l("the check-in is not of a student of this class")),
    # the core (attendance/)
    (r"password must have at least (?P<n>\d+) characters", _l("password must have at least %(n)s characters")),
    (r"password must have at most (?P<n>\d+) characters", _l("password must have at most %(n)s characters")),
    (r"username must be 1-80 characters without spaces", _l("username must be 1-80 characters without spaces")),
    (r"role must be one of .*", _l("unknown role")),
    (r"a \S+ belongs to a school", _l("this role belongs to a school")),
    (r"username " + _Q.format("name") + r" is already in use", _l("username %(name)s is already in use")),
    (r"class not found", _l("class not found")),
    (r"a teacher can only teach classes of their own school",
     _l("a teacher can only teach classes of their own school")),
    (r"a camera name must be 1 to 100 characters", _l("a camera name must be 1 to 100 characters")),
    (r"school \S+ already has a camera named " + _Q.format("name"), _l("the school already has a camera named %(name)s")),
    (r"a token name must be 1 to 100 characters", _l("a token name must be 1 to 100 characters")),
    (r"roster must be a \.csv or \.xlsx file", _l("the roster must be a .csv or .xlsx file")),
    (r"the file is empty", _l("the file is empty")),
    (r"at most (?P<n>\d+) rows per file", _l("at most %(n)s rows per file")),
    (r"date " + _Q.format("text") + r" is not dd/mm/yyyy", _l("date %(text)s is not dd/mm/yyyy")),
    (r"missing column\(s\): (?P<columns>.*)", _l("missing column(s): %(columns)s")),
    (r"missing (?P<columns>.*)", _l("missing %(columns)s")),
    (r"a value is too long", _l("a value is too long")),
    (r"student_code (?P<code>\S+) repeats row (?P<row>\d+)", _l("student code %(code)s repeats row %(row)s")),
    (r"the file is not a readable \.xlsx workbook", _l("the file is not a readable .xlsx workbook")),
    (r"student code " + _Q.format("code") + r" must be 1-32 letters, digits, '\.', '-' or '_'",
     _l("student code %(code)s must be 1-32 letters, digits, '.', '-' or '_'")),
    (r"class code is empty", _l("the class code is empty")),
    (r"student (?P<code>\S+): the name is empty", _l("student %(code)s: the name is empty")),
    (r"(?P<day>\d{4}-\d\d-\d\d) is past: a holiday can be added or removed only for today or a later day "
     r"\(mark the students excused instead\)",
     _l("%(day)s is past: a holiday can be added or removed only for today or a later day (mark the students "
        "excused instead)")),
    (r"an override status is one of .*", _l("unknown roll status")),
    (r"an override needs a reason", _l("an override needs a reason")),
    (r"a reason is at most (?P<n>\d+) characters", _l("a reason is at most %(n)s characters")),
    (r"(?P<day>\d{4}-\d\d-\d\d) is not a school day", _l("%(day)s is not a school day")),
    (r"student (?P<code>\S+) has no photo (?P<photo>\d+)", _l("student %(code)s has no photo %(photo)s")),
    (r"choose an active student of this school", _l("choose an active student of this school")),
    (r"no check-in (?P<id>\d+)", _l("no check-in %(id)s")),
    (r"check-in (?P<id>\d+) was not flagged for review", _l("check-in %(id)s was not flagged for review")),
    (r"a review decision is confirm or reject, got .*", _l("a review decision is confirm or reject")),
    (r"the consent form reference must be 1 to (?P<n>\d+) characters",
     _l("the consent form reference must be 1 to %(n)s characters")),
    (r"give the date on the consent form", _l("give the date on the consent form")),
    (r"the consent form date is in the future", _l("the consent form date is in the future")),
    (r"choose at least one student", _l("choose at least one student")),
    (r"no month (?P<month>\S+)", _l("no month %(month)s")),
    # enrollment warnings (attendance.enrollment: EnrollResult.warnings)
    (r"looks very like student (?P<code>\S+) \(distance (?P<distance>[\d.]+)\): enrolled as confirmed \(twins or "
     r"siblings\)", _l("looks very like student %(code)s (distance %(distance)s): enrolled as confirmed (twins or "
                       "siblings)")),
    (r"model (?P<model>\S+) did not find the face: no template for it",
     _l("model %(model)s did not find the face: no template for it")),
    (r"a chosen student is not of this school", _l("a chosen student is not of this school")),
    # merged from the robustness and consent work
    (r'the new password is the same as the current one', _l('the new password is the same as the current one')),
    (r'no integration token with id (?P<id>\S+)', _l('no integration token with id %(id)s')),
    (r'the roster sent back is not a table of text', _l('the roster sent back is not a table of text')),
    (r'the file is not a CSV text file \(it holds binary data\)',
     _l('the file is not a CSV text file (it holds binary data)')),
    (r'the CSV file cannot be read \((?P<why>.*)\)', _l('the CSV file cannot be read (%(why)s)')),
    (r'the workbook has no sheet of cells', _l('the workbook has no sheet of cells')),
    (r'the workbook unpacks to more than 200 MB', _l('the workbook unpacks to more than 200 MB')),
    (r'the workbook declares a DTD or entities, which a roster never needs',
     _l('the workbook declares a DTD or entities, which a roster never needs')),
    (r"the guardian's name is empty", _l("the guardian's name is empty")),
    (r'the consent date is in the future', _l('the consent date is in the future')),
    (r'student (?P<code>\S+) has no consent to withdraw', _l('student %(code)s has no consent to withdraw')),
    (r'no such notice version', _l('no such notice version')),
    (r'the student is (?P<age>\S+) or older \(or has no date of birth\): their own agreement is needed too',
     _l('the student is %(age)s or older (or has no date of birth): their own agreement is needed too')),
    (r'that notice belongs to another school', _l('that notice belongs to another school')),
]]


def translate_detail(message: str) -> str | None:
    """``message`` (a core error's English detail) in the page's language; None when no pattern knows it."""
    message = message.strip()
    for pattern, template in DETAILS:
        match = pattern.match(message)
        if match:
            return str(template) % match.groupdict() if match.groupdict() else str(template)
    return None


def detail_for_page(message: str) -> str:
    """The detail to show on a page: translated, or the English text on an English page, or "" otherwise."""
    translated = translate_detail(message)
    if translated is not None:
        return translated
    locale = get_locale()
    return message if locale is None or locale.language == "en" else ""
