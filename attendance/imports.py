"""Roster import: students from a CSV or XLSX file, row by row, with every bad row reported and none lost.

Columns (header names, any order, case-insensitive; Vietnamese headers work too): ``student_code``,
``full_name``, ``class`` and optionally ``date_of_birth`` (dd/mm/yyyy or ISO yyyy-mm-dd). Names are
NFC-normalised. A student whose code exists is updated; a class code not seen before is created.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import unicodedata
import zipfile
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from attendance.db.models import School, SchoolClass, Student
from attendance.directory import check_student_code, get_or_create_class, normalise_name
from attendance.errors import InvalidInput

MAX_ROWS = 10_000

HEADER_ALIASES = {
    "student_code": {"student_code", "code", "ma_hoc_sinh", "mã học sinh", "ma hs", "mã hs", "mahs"},
    "full_name": {"full_name", "name", "ho_ten", "họ và tên", "họ tên", "ho va ten", "ho ten"},
    "class": {"class", "class_code", "lop", "lớp"},
    "date_of_birth": {"date_of_birth", "dob", "birth_date", "ngay_sinh", "ngày sinh", "ngay sinh"},
}
REQUIRED = ("student_code", "full_name", "class")


@dataclass(frozen=True)
class RosterRow:
    line: int  # row number in the file, the header being row 1
    student_code: str
    full_name: str
    class_code: str
    date_of_birth: dt.date | None


@dataclass(frozen=True)
class RowError:
    line: int
    message: str  # English, short; the dashboard shows it next to the row number
    raw: str = ""  # the row as read, so nothing the admin typed is lost


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    classes_created: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def read_roster(data: bytes, filename: str) -> tuple[list[RosterRow], list[RowError]]:
    """Parse a roster file (``.csv`` or ``.xlsx``, chosen by name) into good rows and per-row errors.

    Raises ``InvalidInput`` when the file as a whole cannot be read (wrong type, no header, too many rows).
    """
    name = filename.lower()
    if name.endswith(".xlsx"):
        table = _read_xlsx(data)
    elif name.endswith(".csv") or name.endswith(".txt"):
        table = _read_csv(data)
    else:
        raise InvalidInput("roster must be a .csv or .xlsx file")
    if not table:
        raise InvalidInput("the file is empty")
    if len(table) > MAX_ROWS + 1:
        raise InvalidInput(f"at most {MAX_ROWS} rows per file")
    columns = _map_header(table[0])
    rows: list[RosterRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for line, cells in enumerate(table[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        raw = ", ".join(cells)
        value = {key: (cells[i].strip() if i < len(cells) else "") for key, i in columns.items()}
        code = _nfc(value["student_code"])
        full_name = normalise_name(value["full_name"])
        class_code = _nfc(value["class"]).upper()
        missing = [key for key in REQUIRED if not {"student_code": code, "full_name": full_name,
                                                      "class": class_code}[key]]
        if missing:
            errors.append(RowError(line, f"missing {', '.join(missing)}", raw))
            continue
        if len(class_code) > 32 or len(full_name) > 200:
            errors.append(RowError(line, "a value is too long", raw))
            continue
        try:
            code = check_student_code(code)
            dob = parse_date(value.get("date_of_birth", ""))
        except InvalidInput as err:
            errors.append(RowError(line, err.message, raw))
            continue
        if code in seen:
            errors.append(RowError(line, f"student_code {code} repeats row {seen[code]}", raw))
            continue
        seen[code] = line
        rows.append(RosterRow(line, code, full_name, class_code, dob))
    return rows, errors


def import_roster(session: Session, school: School, rows: list[RosterRow], school_year: str = "") -> ImportReport:
    """Create or update the students of ``rows`` in ``school``; classes missing are created."""
    report = ImportReport()
    known_classes = set(session.scalars(select(SchoolClass.code).where(SchoolClass.school_id == school.id)))
    classes: dict[str, SchoolClass] = {}
    existing = {s.student_code: s for s in session.scalars(select(Student).where(Student.school_id == school.id))}
    for row in rows:
        school_class = classes.get(row.class_code)
        if school_class is None:
            school_class = get_or_create_class(session, school, row.class_code, school_year)
            classes[row.class_code] = school_class
            if row.class_code not in known_classes:
                known_classes.add(row.class_code)
                report.classes_created.append(row.class_code)
        student = existing.get(row.student_code)
        if student is None:
            student = Student(school_id=school.id, student_code=row.student_code, full_name=row.full_name,
                              class_id=school_class.id, date_of_birth=row.date_of_birth, active=True)
            session.add(student)
            existing[row.student_code] = student
            report.created += 1
        else:
            student.full_name = row.full_name
            student.class_id = school_class.id
            if row.date_of_birth is not None:
                student.date_of_birth = row.date_of_birth
            student.active = True
            report.updated += 1
    session.flush()
    return report


def parse_date(text: str) -> dt.date | None:
    """``dd/mm/yyyy``, ``d/m/yyyy``, ``dd-mm-yyyy`` or ISO ``yyyy-mm-dd``; empty gives None."""
    text = (text or "").strip()
    if not text:
        return None
    if " " in text:  # a spreadsheet date read as "2015-03-09 00:00:00"
        text = text.split(" ", 1)[0]
    for fmt in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise InvalidInput(f"date {text!r} is not dd/mm/yyyy")


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text or "").strip()


def _map_header(header: list[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for i, cell in enumerate(header):
        key = _nfc(cell).lower().lstrip("\ufeff")
        for name, aliases in HEADER_ALIASES.items():
            if key in aliases and name not in columns:
                columns[name] = i
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise InvalidInput(f"missing column(s): {', '.join(missing)}")
    return columns


def _read_csv(data: bytes) -> list[list[str]]:
    for encoding in ("utf-8-sig", "cp1258", "latin-1"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    return [list(r) for r in csv.reader(io.StringIO(text), delimiter=delimiter)]


def _read_xlsx(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as err:
        raise InvalidInput("the file is not a readable .xlsx workbook") from err
    try:
        sheet = workbook.worksheets[0]
        table = []
        for i, row in enumerate(sheet.iter_rows(values_only=True)):
            if i > MAX_ROWS + 1:
                break
            table.append([_cell_text(v) for v in row])
        return table
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
