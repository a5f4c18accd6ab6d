"""Signed QR cards: a way in without a face, for students without consent or a day the face path fails.

A card's QR code holds ``ATQ1|<school code>|<student code>|<card version>|<signature>``. The signature is
HMAC-SHA256 over the first four fields with the school's card secret (``School.card_secret``, random, kept on
the server only), truncated to 120 bits and written in unpadded base64url. Nobody can make a card from a
student code alone: they need the secret. A lost card is revoked by bumping the student's ``card_version``
(its old cards stop verifying, a new one is printed); ``rotate_school_secret`` revokes every card of a school.

The gate agents only read cards and pass them on; the dashboard verifies each one (``verify_card``). The
secret is symmetric, so handing it to each gate PC would let anyone holding a stolen one forge cards.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from attendance.db.models import School

PREFIX = "ATQ1"
SEPARATOR = "|"
SIGNATURE_BYTES = 15  # 120 bits: 20 base64url characters, a small QR code (version 3-4)


class CardFormatError(ValueError):
    """A text is not a card of this product (another QR code in view, or a damaged read)."""


@dataclass(frozen=True)
class Card:
    """The fields of a card; ``signature`` is checked by ``verify_card``, not by parsing."""

    school_code: str
    student_code: str
    version: int
    signature: str

    @property
    def payload(self) -> str:
        return SEPARATOR.join((_signed_text(self.school_code, self.student_code, self.version), self.signature))


def new_card_secret() -> str:
    """A fresh school card secret: 32 random bytes, hex (64 characters)."""
    return secrets.token_hex(32)


def _signed_text(school_code: str, student_code: str, version: int) -> str:
    return SEPARATOR.join((PREFIX, school_code, student_code, str(version)))


def _signature(secret: str, text: str) -> str:
    digest = hmac.new(bytes.fromhex(secret), text.encode("utf-8"), hashlib.sha256).digest()[:SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def sign_card(secret: str, school_code: str, student_code: str, version: int = 1) -> Card:
    """The card of one student (``secret`` is the school's hex card secret; ``version`` >= 1)."""
    for value in (school_code, student_code):
        if not value or SEPARATOR in value:
            raise CardFormatError(f"a card cannot hold {value!r} (empty, or contains {SEPARATOR!r})")
    text = _signed_text(school_code, student_code, version)
    return Card(school_code, student_code, version, _signature(secret, text))


def parse_card(payload: str) -> Card:
    """The fields of a card's QR text; ``CardFormatError`` when it is not one (nothing is verified here)."""
    parts = payload.split(SEPARATOR)
    if len(parts) != 5 or parts[0] != PREFIX or not parts[1] or not parts[2] or not parts[3].isdigit():
        raise CardFormatError("not an attendance card")
    if len(parts[4]) != (SIGNATURE_BYTES * 4 + 2) // 3:
        raise CardFormatError("the card's signature has the wrong length")
    return Card(parts[1], parts[2], int(parts[3]), parts[4])


def looks_like_card(payload: str) -> bool:
    """True when ``payload`` has a card's shape (the agent's cheap filter before queueing it)."""
    try:
        parse_card(payload)
    except CardFormatError:
        return False
    return True


def verify_card(secret: str | None, card: Card, school_code: str, student_code: str, version: int) -> bool:
    """True when ``card`` is the current card of this student: the right school, student and version, and a
    signature made with ``secret`` (compared in constant time). A school without a secret has no valid cards."""
    if not secret or (card.school_code, card.student_code, card.version) != (school_code, student_code, version):
        return False
    expected = _signature(secret, _signed_text(school_code, student_code, version))
    return hmac.compare_digest(expected, card.signature)


def school_card_secret(session, school) -> str:
    """The school's card secret, made (and flushed) the first time a card is printed."""
    if not school.card_secret:
        school.card_secret = new_card_secret()
        session.flush()
    return school.card_secret


def card_of(session, student) -> Card:
    """The current card of ``student`` (an ORM ``Student`` with its school loaded through the session)."""
    school = session.get(School, student.school_id)
    return sign_card(school_card_secret(session, school), school.code, student.student_code, student.card_version or 1)


def revoke_card(session, student) -> Card:
    """Revoke ``student``'s printed cards (the version goes up) and return the new card to print."""
    student.card_version = (student.card_version or 1) + 1
    session.flush()
    return card_of(session, student)


def rotate_school_secret(session, school) -> None:
    """Revoke every card of ``school``: a new secret; all its cards must be printed again."""
    school.card_secret = new_card_secret()
    session.flush()
