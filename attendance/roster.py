"""Rosters to enroll: a photo folder laid out ``CLASS/STUDENT_CODE Full Name/photo.jpg``, or a CSV file."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from attendance.directory import normalise_name
from attendance.errors import InvalidInput

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
CSV_COLUMNS = ("student_code", "full_name", "class", "photo")


@dataclass
class RosterEntry:
    """One student and the photo files to enroll for them."""

    class_code: str
    student_code: str
    full_name: str
    photos: list[Path] = field(default_factory=list)


def read_photo_folder(root: Path) -> list[RosterEntry]:
    """Students from ``root/CLASS/STUDENT_CODE Full Name/*.jpg``; sorted by class, then code.

    A student folder's name is the code, a space, then the full name (``HS0012 Nguyễn Văn An``). Files
    that are not photos (by suffix) are ignored; a student folder whose name has no space is an error.
    """
    if not root.is_dir():
        raise InvalidInput(f"{root} is not a folder")
    entries = []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for student_dir in sorted(p for p in class_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            code, _, name = student_dir.name.strip().partition(" ")
            if not name.strip():
                raise InvalidInput(
                    f"{student_dir}: name the folder 'STUDENT_CODE Full Name' (e.g. 'HS0012 Nguyễn Văn An')"
                )
            photos = sorted(p for p in student_dir.iterdir() if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)
            entries.append(RosterEntry(class_dir.name, code, normalise_name(name), photos))
    if not entries:
        raise InvalidInput(f"{root} has no CLASS/STUDENT_CODE Full Name/ folders")
    return entries


def read_roster_csv(csv_path: Path, photo_dir: Path | None = None) -> list[RosterEntry]:
    """Students from a CSV with columns student_code, full_name, class, photo (one row per photo).

    Photo paths are relative to ``photo_dir`` (default: the CSV's folder). UTF-8, with or without a BOM.
    """
    photo_dir = photo_dir or csv_path.parent
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise InvalidInput(f"{csv_path}: missing column(s) {', '.join(missing)}")
            by_code: dict[str, RosterEntry] = {}
            for line, row in enumerate(reader, start=2):
                code = (row["student_code"] or "").strip()
                if not code:
                    raise InvalidInput(f"{csv_path} line {line}: student_code is empty")
                entry = by_code.setdefault(
                    code, RosterEntry((row["class"] or "").strip(), code, normalise_name(row["full_name"] or ""))
                )
                if (row["photo"] or "").strip():
                    entry.photos.append(photo_dir / row["photo"].strip())
    except UnicodeDecodeError as err:
        raise InvalidInput(f"{csv_path}: not UTF-8 text") from err
    except OSError as err:
        raise InvalidInput(f"{csv_path}: cannot read ({err.strerror})") from err
    return list(by_code.values())
