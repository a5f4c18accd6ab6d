"""Re-encrypting everything sealed at rest with the current data key: ``attendance keys rotate``.

Rotation with the key file: a new key is written first in the file, ahead of the old ones (so a crash half
way leaves every blob readable), every template, kept photo and snapshot not sealed with it is opened with
the keyring and sealed again (plaintext from before encryption too), and only then are the old keys dropped
from the file. With ``ATTENDANCE_DATA_KEY`` the operator puts the new key first in the variable; rotation
re-encrypts and says to remove the old ones. Templates are committed in batches; files are replaced
atomically, so a rotation that stops can simply be run again.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import LargeBinary, select, type_coerce, update

from attendance.crypto import Keyring, install_keyring, is_sealed, key_file_path, new_key, write_key_file
from attendance.db.models import CheckIn, EnrollmentPhoto, FaceTemplate, UnknownFace

logger = logging.getLogger(__name__)

BATCH_ROWS = 500


@dataclass
class RotationReport:
    """What a rotation re-sealed (and what it already found sealed with the current key)."""

    key_id: str = ""
    templates: int = 0
    files: int = 0
    already_current: int = 0
    missing_files: int = 0
    old_keys_dropped: int = 0


def prepare_rotation(settings, keyring: Keyring) -> Keyring:
    """The keyring to rotate to: with the key file, a new key first (written before anything is re-sealed);
    with ``ATTENDANCE_DATA_KEY``, the keyring as it is (its first key is the new one)."""
    if settings.data_key:
        return keyring
    rotated = Keyring([new_key(), *keyring.keys])
    write_key_file(key_file_path(settings), rotated.keys)
    return rotated


def rotate_keys(session_factory, instance_path: str | os.PathLike[str], keyring: Keyring) -> RotationReport:
    """Seal every template and file again with ``keyring``'s current key (installed for the duration)."""
    install_keyring(keyring)
    report = RotationReport(key_id=keyring.current_id.hex())
    _rotate_templates(session_factory, keyring, report)
    instance = Path(instance_path)
    for relative, purpose in _sealed_files(session_factory):
        _rotate_file(instance / relative, purpose, keyring, report)
    return report


def finish_rotation(settings, keyring: Keyring, report: RotationReport) -> None:
    """Drop the old keys from the key file once everything is sealed with the current one."""
    if settings.data_key or len(keyring.keys) == 1:
        return
    write_key_file(key_file_path(settings), keyring.keys[:1])
    report.old_keys_dropped = len(keyring.keys) - 1


def _rotate_templates(session_factory, keyring: Keyring, report: RotationReport) -> None:
    raw = type_coerce(FaceTemplate.vector, LargeBinary)  # the stored bytes, not opened
    after_id = 0
    while True:
        with session_factory() as session:
            rows = session.execute(select(FaceTemplate.id, raw).where(FaceTemplate.id > after_id)
                                   .order_by(FaceTemplate.id).limit(BATCH_ROWS)).all()
            if not rows:
                return
            for template_id, blob in rows:
                if keyring.is_current(blob):
                    report.already_current += 1
                    continue
                vector = keyring.open(blob, "template") if is_sealed(blob) else blob
                session.execute(update(FaceTemplate).where(FaceTemplate.id == template_id).values(vector=vector))
                report.templates += 1
            session.commit()
            after_id = rows[-1][0]


def _sealed_files(session_factory) -> list[tuple[str, str]]:
    with session_factory() as session:
        photos = session.scalars(select(EnrollmentPhoto.file_path).where(EnrollmentPhoto.file_path.is_not(None)))
        files = [(path, "photo") for path in photos]
        for model in (CheckIn, UnknownFace):
            files += [(path, "snapshot") for path in
                      session.scalars(select(model.snapshot_path).where(model.snapshot_path.is_not(None)))]
    return sorted(set(files))


def _rotate_file(path: Path, purpose: str, keyring: Keyring, report: RotationReport) -> None:
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        report.missing_files += 1
        return
    if keyring.is_current(blob):
        report.already_current += 1
        return
    plaintext = keyring.open(blob, purpose) if is_sealed(blob) else blob
    tmp = path.with_name(path.name + ".rotating")
    tmp.write_bytes(keyring.seal(plaintext, purpose))
    os.replace(tmp, path)
    report.files += 1
