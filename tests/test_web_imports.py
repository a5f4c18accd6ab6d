"""Roster import (``attendance.imports``): CSV and XLSX, dd/mm/yyyy and ISO dates, NFC names, per-row errors."""

from __future__ import annotations

import datetime as dt
import io
import unicodedata

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from attendance.db.models import SchoolClass, Student
from attendance.errors import InvalidInput
from attendance.imports import import_roster, parse_date, read_roster
from factories import make_class, make_school, make_student


def csv_bytes(text: str, encoding: str = "utf-8-sig") -> bytes:
    return text.encode(encoding)


def test_csv_rows_dates_and_nfc_names():
    decomposed = unicodedata.normalize("NFD", "Nguyễn Thị Ánh")
    data = csv_bytes("student_code,full_name,class,date_of_birth\n"
                     f"HS1,{decomposed},6a1,02/09/2014\n"
                     "HS2,  Trần   Văn Bảo ,6A1,2014-01-31\n"
                     "HS3,Lê Cường,6A2,\n")
    rows, errors = read_roster(data, "danh-sach.csv")
    assert errors == []
    assert [r.student_code for r in rows] == ["HS1", "HS2", "HS3"]
    assert rows[0].full_name == "Nguyễn Thị Ánh" and unicodedata.is_normalized("NFC", rows[0].full_name)
    assert rows[0].class_code == "6A1" and rows[0].date_of_birth == dt.date(2014, 9, 2)
    assert rows[1].full_name == "Trần Văn Bảo" and rows[1].date_of_birth == dt.date(2014, 1, 31)
    assert rows[2].date_of_birth is None


def test_every_bad_row_is_reported_with_its_content():
    data = csv_bytes("student_code,full_name,class,date_of_birth\n"
                     "HS1,An,6A1,31/02/2014\n"
                     ",Bình,6A1,\n"
                     "HS3,Cường,6A1,\n"
                     "HS3,Cường again,6A1,\n"
                     "HS 4,Dũng,6A1,\n"
                     "\n"
                     "HS5,Em,6A1,\n")
    rows, errors = read_roster(data, "x.csv")
    assert [r.student_code for r in rows] == ["HS3", "HS5"]
    assert [e.line for e in errors] == [2, 3, 5, 6]
    assert "31/02/2014" in errors[0].message and "student_code" in errors[1].message
    assert "repeats row 4" in errors[2].message and "Cường again" in errors[2].raw


def test_vietnamese_headers_semicolons_and_excel_encodings():
    data = csv_bytes("Mã học sinh;Họ và tên;Lớp;Ngày sinh\nHS1;Phạm Thị Dung;7B;05/06/2013\n", "utf-8")
    rows, errors = read_roster(data, "ds.CSV")
    assert not errors and rows[0].full_name == "Phạm Thị Dung" and rows[0].class_code == "7B"


def test_file_level_problems_raise():
    with pytest.raises(InvalidInput):
        read_roster(b"whatever", "roster.pdf")
    with pytest.raises(InvalidInput):
        read_roster(csv_bytes("code,name\nHS1,An\n"), "x.csv")
    with pytest.raises(InvalidInput):
        read_roster(b"not a zip", "x.xlsx")
    with pytest.raises(InvalidInput):
        read_roster(b"", "x.csv")


def test_xlsx_with_real_dates():
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["student_code", "full_name", "class", "date_of_birth"])
    sheet.append([1001, "Võ Thị Giang", "9A", dt.datetime(2011, 12, 1)])  # noqa: DTZ001 (a spreadsheet date cell)
    sheet.append(["HS1002", "Hồ Văn Hải", "9A", "01/12/2011"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    rows, errors = read_roster(buffer.getvalue(), "ds.xlsx")
    assert errors == []
    assert [(r.student_code, r.date_of_birth) for r in rows] == [
        ("1001", dt.date(2011, 12, 1)), ("HS1002", dt.date(2011, 12, 1))]


def test_import_creates_updates_and_makes_missing_classes(session):
    school = make_school(session)
    a1 = make_class(session, school, "6A1")
    make_student(session, a1, "HS1", "Tên Cũ", active=False)
    rows, _ = read_roster(csv_bytes("student_code,full_name,class\nHS1,Tên Mới,6A1\nHS2,Học Sinh Mới,6A9\n"), "x.csv")
    report = import_roster(session, school, rows, school_year="2026-2027")
    assert (report.created, report.updated, report.classes_created) == (1, 1, ["6A9"])
    old = session.scalar(select(Student).where(Student.student_code == "HS1"))
    assert old.full_name == "Tên Mới" and old.active
    new_class = session.scalar(select(SchoolClass).where(SchoolClass.code == "6A9"))
    assert new_class.grade == 6 and new_class.school_year == "2026-2027"
    again = import_roster(session, school, rows)
    assert (again.created, again.updated, again.classes_created) == (0, 2, [])


def test_parse_date_formats():
    assert parse_date("") is None
    assert parse_date("9/3/2026") == dt.date(2026, 3, 9)
    assert parse_date("09-03-2026") == dt.date(2026, 3, 9)
    assert parse_date("2026-03-09 00:00:00") == dt.date(2026, 3, 9)
    with pytest.raises(InvalidInput):
        parse_date("March 9")
