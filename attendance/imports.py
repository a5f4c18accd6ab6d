"""Roster import: students from a CSV or XLSX file, row by row, with every bad row reported and none lost.

Columns (header names, any order, case-insensitive; Vietnamese headers work too): ``student_code``,
``full_name`` (or a school export's two columns "Họ đệm" and "Tên"), ``class`` and optionally
``date_of_birth`` (dd/mm/yyyy or ISO yyyy-mm-dd). The header may follow a few title rows (a school's name,
"DANH SÁCH HỌC SINH"...): the first row within ``MAX_TITLE_ROWS`` that names the columns is the header.
Names are NFC-normalised. A student whose code exists is updated; a class code not seen before is created.

Reading is separate from storing (``read_table`` then ``parse_roster_table``, then ``import_roster``), so
the dashboard shows a preview first. A file that cannot be read as a whole (corrupt, an XLSX with a DTD or
an entity declaration, a CSV field over 128 KB, no sheet) is ``InvalidInput``, never another exception.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import unicodedata
import zipfile
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from attendance.db.models import School, SchoolClass, Student
from attendance.directory import check_student_code, get_or_create_class, normalise_name
from attendance.errors import InvalidInput
from attendance.students import build_student
from attendance.text import text_problem

MAX_ROWS = 10_000
MAX_TITLE_ROWS = 10
MAX_CELL_CHARS = 1000
MAX_XLSX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024  # a zip bomb would unpack to far more

HEADER_ALIASES = {
    "student_code": {"student_code", "code", "ma_hoc_sinh", "mã học sinh", "ma hs", "mã hs", "mahs"},
    "full_name": {"full_name", "name", "ho_ten", "họ và tên", "họ tên", "ho va ten", "ho ten"},
    "class": {"class", "class_code", "lop", "lớp"},
    "date_of_birth": {"date_of_birth", "dob", "birth_date", "ngay_sinh", "ngày sinh", "ngay sinh"},
    "family_middle": {"family_middle", "họ đệm", "ho dem", "ho_dem", "họ và tên đệm", "ho va ten dem", "họ lót",
                      "ho lot", "họ và đệm"},
    "given_name": {"given_name", "first_name", "tên", "ten"},
}
REQUIRED = ("student_code", "full_name", "class")
TEMPLATE_HEADER = ("student_code", "full_name", "class", "date_of_birth")
TEMPLATE_EXAMPLE = ("HS0001", "Nguyễn Văn An", "6A1", "05/09/2014")


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
    return parse_roster_table(read_table(data, filename))


def read_table(data: bytes, filename: str) -> list[list[str]]:
    """The cells of a roster file (``.csv``, ``.txt`` or ``.xlsx``) as rows of strings; ``InvalidInput`` when
    the file as a whole cannot be read."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        table = _read_xlsx(data)
    elif name.endswith((".csv", ".txt")):
        table = _read_csv(data)
    else:
        raise InvalidInput("roster must be a .csv or .xlsx file")
    if not any(any(cell.strip() for cell in row) for row in table):
        raise InvalidInput("the file is empty")
    if len(table) > MAX_ROWS + MAX_TITLE_ROWS + 1:
        raise InvalidInput(f"at most {MAX_ROWS} rows per file")
    return table


def check_table(value: Any) -> list[list[str]]:
    """``value`` (a table sent back by the preview page) if it is rows of strings within the limits."""
    if (not isinstance(value, list) or len(value) > MAX_ROWS + MAX_TITLE_ROWS + 1
            or not all(isinstance(row, list) and len(row) <= 100 for row in value)
            or not all(isinstance(cell, str) and len(cell) <= MAX_CELL_CHARS for row in value for cell in row)):
        raise InvalidInput("the roster sent back is not a table of text")
    return value


def parse_roster_table(table: list[list[str]]) -> tuple[list[RosterRow], list[RowError]]:
    """Good rows and per-row errors of a table whose header is one of its first ``MAX_TITLE_ROWS`` rows."""
    header_index, columns = _find_header(table)
    rows: list[RosterRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for line, cells in enumerate(table[header_index + 1:], start=header_index + 2):
        if not any(c.strip() for c in cells):
            continue
        raw = ", ".join(cells)[:MAX_CELL_CHARS]
        value = {key: (cells[i].strip() if i < len(cells) else "") for key, i in columns.items()}
        code = _nfc(value["student_code"])
        full_name = normalise_name(value.get("full_name") or
                                   f"{value.get('family_middle', '')} {value.get('given_name', '')}")
        class_code = _nfc(value["class"]).upper()
        missing = [key for key in REQUIRED if not {"student_code": code, "full_name": full_name,
                                                      "class": class_code}[key]]
        if missing:
            errors.append(RowError(line, f"missing {', '.join(missing)}", raw))
            continue
        if len(class_code) > 32 or len(full_name) > 200:
            errors.append(RowError(line, "a value is too long", raw))
            continue
        problem = text_problem(code + class_code + full_name + value.get("date_of_birth", ""))
        if problem:
            errors.append(RowError(line, f"a value {problem}", raw))
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
            student = build_student(school, row.student_code, row.full_name, school_class=school_class,
                                    date_of_birth=row.date_of_birth)
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


def _find_header(table: list[list[str]]) -> tuple[int, dict[str, int]]:
    """(index, columns) of the first of the table's first rows that names the required columns."""
    best: dict[str, int] = {}
    for index, row in enumerate(table[:MAX_TITLE_ROWS + 1]):
        columns = _map_header(row)
        if not _missing_columns(columns):
            return index, columns
        if len(columns) > len(best):
            best = columns
    missing = _missing_columns(best)
    raise InvalidInput(f"missing column(s): {', '.join(missing)} (the header must be within the first "
                       f"{MAX_TITLE_ROWS + 1} rows)")


def _map_header(header: list[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for i, cell in enumerate(header):
        key = " ".join(_nfc(cell).lower().lstrip("\ufeff").split())
        for name, aliases in HEADER_ALIASES.items():
            if key in aliases and name not in columns:
                columns[name] = i
    return columns


def _missing_columns(columns: dict[str, int]) -> list[str]:
    # a full name, or a school export's "Họ đệm" and "Tên" (the given name alone will do)
    return [name for name in REQUIRED if name not in columns and not (name == "full_name" and "given_name" in columns)]


def _read_csv(data: bytes) -> list[list[str]]:
    if b"\x00" in data[:4096]:
        raise InvalidInput("the file is not a CSV text file (it holds binary data)")
    text = ""
    for encoding in ("utf-8-sig", "cp1258", "latin-1"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    try:
        # newline=None reads old-Mac "\r", Windows "\r\n" and Unix "\n" line ends alike
        return [list(r) for r in csv.reader(io.StringIO(text, newline=None), delimiter=delimiter)]
    except csv.Error as err:  # a NUL byte, a field over 128 KB: not a roster
        raise InvalidInput(f"the CSV file cannot be read ({err})") from err


def _check_xlsx_parts(data: bytes) -> None:
    """Refuse a workbook whose XML declares a DTD or entities (XXE, "billion laughs") or that unpacks huge."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if sum(m.file_size for m in members) > MAX_XLSX_UNCOMPRESSED_BYTES:
                raise InvalidInput("the workbook unpacks to more than 200 MB")
            for member in members:
                if not member.filename.endswith((".xml", ".rels", ".vml")):
                    continue
                with archive.open(member) as part:
                    head = part.read(64 * 1024).lower()
                if b"<!doctype" in head or b"<!entity" in head:
                    raise InvalidInput("the workbook declares a DTD or entities, which a roster never needs")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError) as err:
        raise InvalidInput("the file is not a readable .xlsx workbook") from err


def _read_xlsx(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    _check_xlsx_parts(data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as err:  # noqa: BLE001 (openpyxl raises many types for a damaged file; none is ours)
        raise InvalidInput("the file is not a readable .xlsx workbook") from err
    try:
        if not workbook.worksheets:
            raise InvalidInput("the workbook has no sheet of cells")
        table = []
        for i, row in enumerate(workbook.worksheets[0].iter_rows(values_only=True)):
            if i > MAX_ROWS + MAX_TITLE_ROWS + 1:
                break
            table.append([_cell_text(v)[:MAX_CELL_CHARS] for v in row])
        return table
    except InvalidInput:
        raise
    except Exception as err:  # noqa: BLE001 (as above: a damaged sheet)
        raise InvalidInput("the file is not a readable .xlsx workbook") from err
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
