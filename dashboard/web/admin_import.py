"""Roster import in the admin pages: upload, preview (nothing stored), confirm; and a template to fill in.

The preview page carries the file's table back in a hidden field, so the confirmation imports exactly
what was shown (checked again on the way in) without keeping the upload anywhere on the server.
"""

from __future__ import annotations

import json

from flask import render_template, request
from flask_babel import gettext as _
from sqlalchemy import select

from attendance.db.models import School, SchoolClass, Student
from attendance.errors import InvalidInput
from attendance.imports import (
    TEMPLATE_EXAMPLE, TEMPLATE_HEADER, check_table, import_roster, parse_roster_table, read_table,
)
from attendance.text import check_text
from dashboard.db import get_db_session
from dashboard.auth import admin_required
from dashboard.web.access import require_school
from dashboard.web.admin import audit
from dashboard.web.admin_people import bp

PREVIEW_ROWS = 200  # the preview lists this many rows; all are imported


@bp.route("/students/import", methods=["GET", "POST"])
@admin_required
def import_students():
    """Upload a roster, see a preview (nothing stored yet), then confirm: the preview sends the table back."""
    school = require_school()
    if request.method != "POST":  # GET, and HEAD: never a state change (HEAD also skips CSRF)
        return render_template("admin/import.html", report=None, preview=None)
    school_year = check_text(request.form.get("school_year", "").strip(), "the school year", 9)
    if request.form.get("action") == "confirm":
        try:
            table = check_table(json.loads(request.form.get("table", "")))
        except (ValueError, RecursionError) as err:
            raise InvalidInput("the roster sent back is not a table of text") from err
        return _import_table(school, table, request.form.get("filename", "")[:100], school_year)
    upload = request.files.get("roster")
    if upload is None or not upload.filename:
        raise InvalidInput("choose a .csv or .xlsx file")
    table = read_table(upload.read(), upload.filename)
    rows, errors = parse_roster_table(table)
    db = get_db_session()
    known = set(db.scalars(select(Student.student_code).where(Student.school_id == school.id)))
    known_classes = set(db.scalars(select(SchoolClass.code).where(SchoolClass.school_id == school.id)))
    preview = {"rows": rows[:PREVIEW_ROWS], "count": len(rows), "errors": errors,
               "new": sum(r.student_code not in known for r in rows),
               "updated": sum(r.student_code in known for r in rows),
               "classes": sorted({r.class_code for r in rows} - known_classes),
               "table": json.dumps(table, ensure_ascii=False)}
    return render_template("admin/import.html", report=None, preview=preview, filename=upload.filename[:100],
                           school_year=school_year)


def _import_table(school: School, table: list[list[str]], filename: str, school_year: str):
    rows, errors = parse_roster_table(table)
    db = get_db_session()
    report = import_roster(db, school, rows, school_year=school_year)
    report.errors = errors
    audit("student.import", f"file:{filename}", school_id=school.id, detail={
        "created": report.created, "updated": report.updated, "errors": len(errors),
        "classes_created": report.classes_created})
    db.commit()
    return render_template("admin/import.html", report=report, preview=None, filename=filename)


@bp.route("/students/import/template.<any(csv, xlsx):fmt>")
@admin_required
def import_template(fmt: str):
    """A roster file to fill in: the header and one example row."""
    from dashboard.web.exports import csv_response, xlsx_response

    filename = f"{_('roster')}.{fmt}"
    if fmt == "csv":
        return csv_response(filename, TEMPLATE_HEADER, [TEMPLATE_EXAMPLE])
    return xlsx_response(filename, "roster", TEMPLATE_HEADER, [TEMPLATE_EXAMPLE])
