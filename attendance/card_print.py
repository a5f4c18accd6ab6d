"""Printing QR cards: one card as a PNG, or a PDF sheet of a class's cards (A4, ten credit-card-size cards).

Each card shows the student's name, class and code beside the QR code of ``attendance/cards.py``. Vietnamese
names need a font with its glyphs: the ``card_font_path`` setting, else DejaVu Sans from the usual system
places (``fonts-dejavu-core`` on Debian and Ubuntu); no font file ships with the product.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import segno
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select

from attendance.cards import card_of
from attendance.db.models import School, SchoolClass, Student
from attendance.errors import AttendanceError, NotFound

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/Library/Fonts/DejaVuSans.ttf",
    "C:/Windows/Fonts/DejaVuSans.ttf",
)
CARD_W_MM, CARD_H_MM = 85.6, 54.0  # ISO/IEC 7810 ID-1, a bank card
SHEET_COLUMNS, SHEET_ROWS = 2, 5
SHEET_MARGIN_MM = (14.0, 13.5)  # left, top: centres the 2x5 grid on A4 (210 x 297 mm)
PNG_DPI = 300


class CardFontMissing(AttendanceError):
    """No font with Vietnamese glyphs was found to print cards with."""

    code = "no_card_font"


@dataclass(frozen=True)
class CardFace:
    """What is printed on one card."""

    full_name: str
    class_code: str
    student_code: str
    school_name: str
    payload: str  # the QR code's text


def find_card_font(configured: str = "") -> Path:
    """The TrueType font to print with: ``configured`` when given, else the first DejaVu Sans found."""
    candidates = (configured,) if configured else FONT_CANDIDATES
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise CardFontMissing("no font with Vietnamese glyphs: install DejaVu Sans (apt install fonts-dejavu-core) "
                          "or set card_font_path")


def qr_image(payload: str, scale: int = 8) -> Image.Image:
    """The QR code of ``payload`` (error correction M, a 4-module quiet zone) as a black-and-white image."""
    buffer = io.BytesIO()
    segno.make(payload, error="m", micro=False).save(buffer, kind="png", scale=scale, border=4)
    buffer.seek(0)
    return Image.open(buffer).convert("L")


def render_card_png(face: CardFace, font_path: Path) -> bytes:
    """One card at 300 dpi (1011 x 638 px) as PNG bytes."""
    width, height = round(CARD_W_MM / 25.4 * PNG_DPI), round(CARD_H_MM / 25.4 * PNG_DPI)
    card = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(card)
    qr = qr_image(face.payload, scale=12).resize((height - 60, height - 60), Image.Resampling.NEAREST)
    card.paste(qr, (width - qr.width - 30, 30))
    text_w = width - qr.width - 90
    y = 50
    for text, size in ((face.school_name, 34), (face.full_name, 52), (face.class_code, 44), (face.student_code, 44)):
        font = _fitting_font(font_path, text, size, text_w)
        draw.text((40, y), text, fill="black", font=font)
        y += size + 50
    draw.rectangle((0, 0, width - 1, height - 1), outline="#888888", width=3)
    out = io.BytesIO()
    card.save(out, format="PNG", dpi=(PNG_DPI, PNG_DPI))
    return out.getvalue()


def _fitting_font(font_path: Path, text: str, size: int, max_px: int) -> ImageFont.FreeTypeFont:
    while True:
        font = ImageFont.truetype(str(font_path), size)
        if size <= 16 or font.getlength(text) <= max_px:
            return font
        size -= 2


def render_sheet_pdf(faces: list[CardFace], font_path: Path, title: str = "") -> bytes:
    """A4 pages of ten cards each (cut along the grey borders), as PDF bytes; the font is embedded."""
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(False)
    pdf.add_font("CardFont", fname=str(font_path))
    pdf.set_title(title or "QR cards")
    per_page = SHEET_COLUMNS * SHEET_ROWS
    for index, face in enumerate(faces):
        if index % per_page == 0:
            pdf.add_page()
        slot = index % per_page
        x = SHEET_MARGIN_MM[0] + (slot % SHEET_COLUMNS) * CARD_W_MM
        y = SHEET_MARGIN_MM[1] + (slot // SHEET_COLUMNS) * CARD_H_MM
        _draw_pdf_card(pdf, face, x, y)
    if not faces:
        pdf.add_page()
    return bytes(pdf.output())


def _draw_pdf_card(pdf: FPDF, face: CardFace, x: float, y: float) -> None:
    pdf.set_draw_color(150)
    pdf.rect(x, y, CARD_W_MM, CARD_H_MM)
    qr_mm = CARD_H_MM - 8
    pdf.image(qr_image(face.payload), x=x + CARD_W_MM - qr_mm - 4, y=y + 4, w=qr_mm, h=qr_mm)
    text_w = CARD_W_MM - qr_mm - 12
    for offset_mm, text, size in ((6, face.school_name, 7.0), (16, face.full_name, 11.0), (28, face.class_code, 10.0),
                                  (38, face.student_code, 10.0)):
        pdf.set_font("CardFont", size=size)
        while size > 5 and pdf.get_string_width(text) > text_w:
            size -= 0.5
            pdf.set_font("CardFont", size=size)
        pdf.set_xy(x + 4, y + offset_mm)
        pdf.cell(text_w, 6, text)


def card_face_of(session, student) -> CardFace:
    """What ``student``'s current card shows (makes the school's card secret on first use: flush, then commit)."""
    school = session.get(School, student.school_id)
    school_class = session.get(SchoolClass, student.class_id) if student.class_id else None
    return CardFace(student.full_name, school_class.code if school_class else "", student.student_code,
                    school.name, card_of(session, student).payload)


def find_class(session, school, class_code: str):
    """The school's class with ``class_code`` (of the latest school year); ``NotFound`` when there is none."""
    school_class = session.scalar(select(SchoolClass).where(SchoolClass.school_id == school.id,
                                                            SchoolClass.code == class_code)
                                  .order_by(SchoolClass.school_year.desc()).limit(1))
    if school_class is None:
        raise NotFound(f"no class {class_code!r} in school {school.code}")
    return school_class


def class_card_faces(session, school_class) -> list[CardFace]:
    """The cards of a class's active students, by name."""
    students = session.scalars(select(Student).where(Student.class_id == school_class.id, Student.active.is_(True))
                               .order_by(Student.full_name, Student.student_code))
    return [card_face_of(session, student) for student in students]
