"""Dashboard users: creation, argon2 password hashing, verification, and the session token that logout rotates.

Roles: ``district_admin`` (no school, sees every school), ``school_admin`` (one school) and ``teacher``
(only the classes they are homeroom teacher of, through ``class_teachers``). Passwords are never stored
or logged; only their argon2id hash is.
"""

from __future__ import annotations

import functools
import secrets
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from attendance.db.models import ROLES, AuditEntry, SchoolClass, User
from attendance.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from attendance.passwords import MAX_PASSWORD_LENGTH, check_password_strength
from attendance.text import check_text


_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password: verifying against it when the user does not exist takes as long as a
    real check, so the login form does not tell which usernames exist by its timing. Made on first need
    (about 0.3 s and 64 MiB of argon2 work), never at import, then kept."""
    return _hasher.hash(secrets.token_hex(16))


def prepare_login_checks() -> None:
    """Make the dummy hash now (a server calls this at start, on a background thread), so that not even the
    first login of an unknown user in a process takes longer than a known user's."""
    _dummy_hash()


def hash_password(password: str, username: str = "") -> str:
    """The argon2id hash of ``password`` (checked for strength first, against ``username`` too)."""
    check_password_strength(password, username)
    return _hasher.hash(password)


def normalise_username(username: str) -> str:
    """Usernames are compared NFKC-normalised (full-width ``ａｄｍｉｎ１`` is ``admin1``), trimmed, lower-case."""
    return unicodedata.normalize("NFKC", username).strip().lower()


def new_session_token() -> str:
    return secrets.token_hex(16)


def create_user(session: Session, username: str, password: str, role: str, school_id: int | None,
                full_name: str = "", language: str = "vi") -> User:
    """Add a user; a district admin has no school, every other role needs one.

    Raises ``InvalidInput`` for a bad role, username or weak password, ``Conflict`` for a username in use.
    """
    username = normalise_username(username)
    if not username or len(username) > 80 or any(ch.isspace() for ch in username):
        raise InvalidInput("username must be 1-80 characters without spaces")
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
    if role == "district_admin":
        school_id = None
    elif school_id is None:
        raise InvalidInput(f"a {role} belongs to a school")
    if find_user(session, username) is not None:
        raise Conflict(f"username {username!r} is already in use")
    user = User(
        username=username, password_hash=hash_password(password, username), role=role, school_id=school_id,
        full_name=check_text(unicodedata.normalize("NFC", full_name).strip(), "the full name", 200),
        session_token=new_session_token(),
        language=language,
    )
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == normalise_username(username))).first()


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this username and password, or None; upgrades an outdated hash in place."""
    user = find_user(session, username)
    if user is None or not user.active or len(password) > MAX_PASSWORD_LENGTH:
        _verify_quietly(_dummy_hash(), password)
        return None
    if not _verify_quietly(user.password_hash, password):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    if not user.session_token:
        user.session_token = new_session_token()
    return user


def _verify_quietly(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def set_password(user: User, password: str) -> None:
    """Change the password and end every session the user has open."""
    user.password_hash = hash_password(password, user.username)
    rotate_session_token(user)


def change_own_password(user: User, current_password: str, new_password: str) -> None:
    """A user's own change: the current password must be right (``PermissionDenied`` if not); then as
    ``set_password``, which ends the user's other sessions."""
    if not _verify_quietly(user.password_hash, current_password[:MAX_PASSWORD_LENGTH]):
        raise PermissionDenied("the current password is wrong")
    if new_password == current_password:
        raise InvalidInput("the new password is the same as the current one")
    set_password(user, new_password)


def rotate_session_token(user: User) -> None:
    """End every dashboard session of ``user`` (on logout, password change, deactivation)."""
    user.session_token = new_session_token()


def set_teacher_classes(session: Session, user: User, class_ids: list[int]) -> None:
    """Make ``user`` homeroom teacher of exactly these classes (all in the user's school)."""
    classes = list(session.scalars(select(SchoolClass).where(SchoolClass.id.in_(class_ids)))) if class_ids else []
    if len(classes) != len(set(class_ids)):
        raise NotFound("class not found")
    if any(c.school_id != user.school_id for c in classes):
        raise InvalidInput("a teacher can only teach classes of their own school")
    user.classes = classes


def list_users(session: Session, school_id: int | None) -> list[User]:
    """Users of one school (``school_id``), or every user when ``school_id`` is None, by username."""
    query = select(User).order_by(User.username)
    if school_id is not None:
        query = query.where(User.school_id == school_id)
    return list(session.scalars(query))


def actor_of(session: Session, user_id: int | None) -> str:
    """The audit actor of ``user_id``: "user:<username>" (its id when the user is gone), "cli" for None."""
    if user_id is None:
        return "cli"
    user = session.get(User, user_id)
    return f"user:{user.username}" if user else f"user:{user_id}"


def record_audit(session: Session, actor: str, action: str, *, user_id: int | None = None,
                 school_id: int | None = None, target: str = "", detail: dict | None = None) -> AuditEntry:
    """Add one audit-log entry, e.g. ``("user:an", "roll.override", target="student:12")``.

    ``detail`` holds ids, codes and reasons only: never a password, token, photo or embedding.
    """
    entry = AuditEntry(actor=actor[:120], action=action[:64], user_id=user_id, school_id=school_id,
                       target=target[:200], detail=detail)
    session.add(entry)
    return entry
