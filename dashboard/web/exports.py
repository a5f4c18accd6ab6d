"""Downloads of a table: CSV in UTF-8 with a BOM (so Excel reads Vietnamese names right) and XLSX (openpyxl)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from flask import Response

CSV_MIMETYPE = "text/csv; charset=utf-8"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A cell that a spreadsheet will not run as a formula (a typed reason could start with ``=``)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value


def csv_response(filename: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([str(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    body = "\ufeff" + buffer.getvalue()
    return _attachment(body.encode("utf-8"), CSV_MIMETYPE, filename)


def xlsx_response(filename: str, title: str, header: Sequence[str], rows: Sequence[Sequence[Any]],
                  heading: str = "") -> Response:
    """One sheet: an optional heading line, the bold header row, then ``rows``; columns sized to fit."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.worksheets[0]  # a new workbook has one sheet
    sheet.title = re.sub(r"[\[\]:*?/\\]", "-", title)[:31] or "Sheet"
    if heading:
        sheet.append([safe_cell(heading)])  # it starts with the school name, typed by an admin
        sheet.cell(row=1, column=1).font = Font(bold=True, size=13)
    sheet.append([str(h) for h in header])
    header_row = sheet.max_row
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([safe_cell(v) for v in row])
    for index, label in enumerate(header, start=1):
        width = max([len(str(label))] + [len(str(r[index - 1] or "")) for r in rows]) + 2
        sheet.column_dimensions[get_column_letter(index)].width = min(width, 50)
    sheet.freeze_panes = f"A{header_row + 1}"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _attachment(buffer.getvalue(), XLSX_MIMETYPE, filename)


def ascii_slug(text: str) -> str:
    """``"6A1 Lê"`` -> ``"6A1-Le"``: safe in a file name on every system."""
    import unicodedata

    text = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "export"


def _attachment(body: bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_slug(filename)}\"; filename*=UTF-8''{quote(filename)}"
    )
    return response
