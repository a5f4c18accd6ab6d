"""Roster files as schools have them: old-Mac line ends, title rows, "Họ đệm" + "Tên", corrupt or hostile files.

Every file-level problem is an ``InvalidInput`` (a message on the page), never another exception; the
dashboard previews before storing and offers a template to fill in.
"""

from __future__ import annotations

import html
import io
import re
import zipfile

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from attendance.db.models import Student
from attendance.errors import InvalidInput
from attendance.imports import read_roster
from factories import make_school, make_user

PASSWORD = "correct horse battery"


def xlsx(rows, *, sheets=True) -> bytes:
    workbook = Workbook()
    if not sheets:
        workbook.remove(workbook.active)
        workbook.create_chartsheet()
    else:
        for row in rows:
            workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def with_doctype(data: bytes, declaration: bytes, part: str = "xl/worksheets/sheet1.xml") -> bytes:
    """The workbook with ``declaration`` inserted after the XML prolog of ``part`` (its first sheet)."""
    source, target = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(target, "w") as out:
        for item in source.infolist():
            body = source.read(item.filename)
            if item.filename == part:
                body = body.replace(b"?>", b"?>" + declaration, 1) if body.startswith(b"<?xml") else declaration + body
            out.writestr(item, body)
    return target.getvalue()


def test_old_mac_line_endings():
    data = "student_code,full_name,class\rHS1,Nguyễn Văn An,6A1\rHS2,Trần Thị Bình,6A1\r".encode()
    rows, errors = read_roster(data, "ds.csv")
    assert [r.student_code for r in rows] == ["HS1", "HS2"] and errors == []


def test_a_school_export_with_title_rows_and_split_names():
    table = [["TRƯỜNG THCS LÊ LỢI"], ["DANH SÁCH HỌC SINH NĂM HỌC 2026-2027"], [],
             ["STT", "Mã học sinh", "Họ đệm", "Tên", "Lớp", "Ngày sinh"],
             [1, "HS001", "Nguyễn Văn", "An", "6A1", "05/09/2014"],
             [2, "HS002", "Trần Thị", "Bình", "6A1", None]]
    for data, name in ((xlsx(table), "export.xlsx"),
                       ("\n".join(",".join("" if c is None else str(c) for c in row) for row in table).encode(),
                        "export.csv")):
        rows, errors = read_roster(data, name)
        assert errors == []
        assert [(r.line, r.student_code, r.full_name, r.class_code) for r in rows] == [
            (5, "HS001", "Nguyễn Văn An", "6A1"), (6, "HS002", "Trần Thị Bình", "6A1")]


@pytest.mark.parametrize("data, name", [
    (b"student_code,full_name,class\n" + b"HS1," + b"x" * 200_000 + b",6A1\n", "big.csv"),
    (b"student_code,full_name,class\n\x00\x01\x02binary", "nul.csv"),
    (b"PK\x03\x04 not really a workbook", "broken.xlsx"),
    (bytes(range(256)) * 40, "random.xlsx"),
    (xlsx([], sheets=False), "charts-only.xlsx"),
    (xlsx([]), "empty.xlsx"),
    (with_doctype(xlsx([["student_code", "full_name", "class"]]), b'<!DOCTYPE x [<!ENTITY a "aaaa">]>'), "dtd.xlsx"),
    (with_doctype(xlsx([["student_code", "full_name", "class"]]),
                  b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'), "xxe.xlsx"),
    (with_doctype(xlsx([["student_code", "full_name", "class"], ["HS1", "An", "6A1"]]),
                  b'<!DOCTYPE x [<!ENTITY e SYSTEM "http://attacker.example/x">]>', "_rels/.rels"), "rels-xxe.xlsx"),
    (b"", "empty.csv"),
    (b"TITLE ONLY\nno header here\n", "noheader.csv"),
])
def test_a_file_that_cannot_be_read_is_invalid_input(data, name):
    with pytest.raises(InvalidInput):
        read_roster(data, name)


@pytest.fixture
def admin(app, client, db):
    with db.session() as s:
        make_user(s, "admin", school=make_school(s, "LL"), role="school_admin", password=PASSWORD)
    assert client.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 302
    return client


def test_the_dashboard_previews_then_imports_a_school_export(admin, db):
    table = [["DANH SÁCH HỌC SINH"], ["Mã HS", "Họ đệm", "Tên", "Lớp"], ["HS001", "Nguyễn Văn", "An", "6A1"]]
    preview = admin.post("/admin/students/import", data={"roster": (io.BytesIO(xlsx(table)), "export.xlsx")},
                         content_type="multipart/form-data")
    assert preview.status_code == 200
    page = preview.get_data(as_text=True)
    assert "Nguyễn Văn An" in page
    with db.session() as s:
        assert s.scalar(select(Student)) is None
    sent_back = html.unescape(re.search(r'name="table" value="([^"]*)"', page).group(1))
    done = admin.post("/admin/students/import", data={"action": "confirm", "table": sent_back,
                                                      "filename": "export.xlsx"})
    assert done.status_code == 200
    with db.session() as s:
        assert s.scalar(select(Student.full_name)) == "Nguyễn Văn An"


@pytest.mark.parametrize("data, name", [
    (b"student_code,full_name,class\rHS1,An,6A1\r", "mac.csv"), (b"PK\x03\x04garbage", "corrupt.xlsx"),
    (b"student_code,full_name,class\n" + b"x" * 140_000 + b"\n", "big.csv"),
])
def test_odd_and_corrupt_files_never_give_a_500(admin, data, name):
    response = admin.post("/admin/students/import", data={"roster": (io.BytesIO(data), name)},
                          content_type="multipart/form-data")
    assert response.status_code in (200, 302)


@pytest.mark.parametrize("table", ["not json", "[[1, 2]]", '{"a": 1}', "[" * 5000 + "]" * 5000])
def test_a_tampered_preview_is_refused(admin, table):
    response = admin.post("/admin/students/import", data={"action": "confirm", "table": table})
    assert response.status_code == 302


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_template_to_fill_in(admin, fmt):
    response = admin.get(f"/admin/students/import/template.{fmt}")
    assert response.status_code == 200
    rows, errors = read_roster(response.data, f"template.{fmt}")
    assert errors == [] and [r.student_code for r in rows] == ["HS0001"]
