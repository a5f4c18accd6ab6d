"""The stored versions of the galleries the agents download: replaced by every change to what the export sends.

``gallery_versions`` holds, per school, a row for the school's students (model ``"*"``: id, code, name,
class code, active, consent; photos deleted with their templates; the school's time zone) and a row per model (its templates,
the school's operating point for it). Each holds a random token, replaced in the same transaction as the
change, so a rollback leaves it alone and a restored database never repeats an old tag. A gallery's
version (the ETag) is the pair of tokens, read with one primary-key lookup.

The hooks see every ORM path: an ``after_flush`` hook notes which galleries the flushed objects change (the
pages, the API, the CLI, imports, erasure, consent), and a bulk ``update()``/``delete()`` on one of the
tables the export reads (key rotation re-seals templates that way) marks every gallery, since the statement
does not say which schools it touched. The tokens are replaced once, at commit, in a fixed order: the rows
stay locked only while the transaction commits, and two transactions never wait on each other's rows
crosswise (a bulk import flushing many times bumps each of its galleries once). Rows written with plain SQL outside the ORM must call
``bump_gallery_versions`` themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import event, inspect, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import ORMExecuteState, Session

from attendance.db.models import (
    EnrollmentPhoto, FaceTemplate, GalleryVersion, School, SchoolClass, SchoolOperatingPoint, Student,
)

ALL_MODELS = "*"  # the model id of a school's row for its students (what every model's gallery lists)
NO_VERSION = "0"  # a row never written: nothing of that kind has changed since the table was made
_BUMP_ALL = "gallery_versions_bump_all"  # session.info flag set by a bulk statement, acted on at commit
_PENDING = "gallery_versions_pending"  # session.info: (school ids, (school id, model id) pairs) to bump at commit
# The student columns the export sends or filters on.
_STUDENT_FIELDS = ("school_id", "class_id", "school_class", "student_code", "full_name", "active", "consent_given")
_BULK_TABLES = {FaceTemplate.__table__, Student.__table__, SchoolClass.__table__, SchoolOperatingPoint.__table__,
                EnrollmentPhoto.__table__}


def read_gallery_version(session: Session, school_id: int, model_id: str) -> str:
    """The version of the school's gallery for ``model_id`` (a short string for an ETag): one indexed read."""
    rows = dict(session.execute(
        select(GalleryVersion.model_id, GalleryVersion.version)
        .where(GalleryVersion.school_id == school_id, GalleryVersion.model_id.in_((ALL_MODELS, model_id)))).all())
    return f"{rows.get(ALL_MODELS, NO_VERSION)}.{rows.get(model_id, NO_VERSION)}"


def bump_gallery_versions(session: Session, school_ids: Iterable[int] = (),
                          pairs: Iterable[tuple[int, str]] = ()) -> None:
    """Give a new token to the students' row of each school in ``school_ids`` and to each ``(school_id,
    model_id)`` in ``pairs`` (creating rows), in the session's transaction."""
    connection = session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    # a fixed order: two transactions never lock the rows crosswise
    keys = sorted({(school_id, ALL_MODELS) for school_id in school_ids} | set(pairs))
    for school_id, model_id in keys:
        token = uuid.uuid4().hex
        statement = dialect.insert(GalleryVersion).values(school_id=school_id, model_id=model_id, version=token)
        connection.execute(statement.on_conflict_do_update(
            index_elements=[GalleryVersion.school_id, GalleryVersion.model_id], set_={"version": token}))


def bump_every_gallery_version(session: Session) -> None:
    """Give every gallery of every school a new version (after a change whose schools are unknown)."""
    session.connection().execute(update(GalleryVersion).values(version=uuid.uuid4().hex))


def _changed(obj: object, fields: Iterable[str]) -> bool:
    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in fields)


def _old_school_ids(student: Student) -> list[int]:
    return [value for value in inspect(student).attrs["school_id"].history.deleted if value is not None]


@event.listens_for(Session, "after_flush")
def _bump_flushed(session: Session, flush_context) -> None:  # noqa: ANN001 (SQLAlchemy's)
    school_ids: set[int] = set()
    pairs: set[tuple[int, str]] = set()
    templates: list[FaceTemplate | EnrollmentPhoto] = []
    deleted = session.deleted
    for obj in (*session.new, *session.dirty, *deleted):
        if isinstance(obj, Student):
            if obj in session.new or obj in deleted or _changed(obj, _STUDENT_FIELDS):
                school_ids.add(obj.school_id)
                school_ids.update(_old_school_ids(obj))
        elif isinstance(obj, SchoolClass):
            if obj in deleted or (obj not in session.new and _changed(obj, ("code",))):  # a new class is empty
                school_ids.add(obj.school_id)
        elif isinstance(obj, School):
            if obj not in session.new and obj not in deleted and _changed(obj, ("timezone",)):
                school_ids.add(obj.id)  # the gallery carries the zone the agents decide the school day in
        elif isinstance(obj, SchoolOperatingPoint):
            pairs.add((obj.school_id, obj.model_id))
        elif isinstance(obj, FaceTemplate):
            templates.append(obj)
        elif isinstance(obj, EnrollmentPhoto) and obj in deleted:
            templates.append(obj)  # its templates go with it, by the database's cascade
    if templates:
        owners = {obj.id: obj.school_id for obj in deleted if isinstance(obj, Student)}
        with session.no_autoflush:
            for obj in templates:
                school_id = owners.get(obj.student_id)
                if school_id is None:
                    student = session.get(Student, obj.student_id)
                    school_id = student.school_id if student is not None else None
                if school_id is None:
                    continue
                if isinstance(obj, FaceTemplate):
                    pairs.add((school_id, obj.model_id))
                else:
                    school_ids.add(school_id)
    if school_ids or pairs:
        pending_ids, pending_pairs = session.info.setdefault(_PENDING, (set(), set()))
        pending_ids.update(school_ids)
        pending_pairs.update(pairs)


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_change(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if table is not None and table in _BULK_TABLES:
        state.session.info[_BUMP_ALL] = True


@event.listens_for(Session, "before_commit")
def _bump_noted_galleries(session: Session) -> None:
    session.flush()  # commit flushes only after this hook: flush now, so that the last changes are noted too
    school_ids, pairs = session.info.pop(_PENDING, (set(), set()))
    if session.info.pop(_BUMP_ALL, False):
        bump_every_gallery_version(session)
    if school_ids or pairs:
        alive = set(session.scalars(select(School.id).where(School.id.in_(school_ids | {s for s, _ in pairs}))))
        bump_gallery_versions(session, school_ids & alive, [(s, m) for s, m in pairs if s in alive])


@event.listens_for(Session, "after_soft_rollback")
def _forget_noted_changes(session: Session, previous_transaction) -> None:  # noqa: ANN001 (SQLAlchemy's)
    if previous_transaction.parent is not None:
        return  # a savepoint rolled back: what the transaction around it noted still stands (a bump too many is harmless)
    session.info.pop(_BUMP_ALL, None)
    session.info.pop(_PENDING, None)
