"""Small factories for tests: ``make_school``, ``make_class``, ``make_student``, ``make_camera``, ``make_user``.

Each takes the session first, adds and flushes (so ids are set) and never commits. Import with
``from factories import make_school, ...`` (pytest puts ``tests/`` on the path). Defaults give a school in
Ho Chi Minh City with the house defaults: Monday to Friday, on time until 07:00, absent after 09:00.
"""

from __future__ import annotations

import datetime as dt
import itertools
import unicodedata
from collections.abc import Iterable, Sequence

import numpy as np
from sqlalchemy import select

from attendance.db.models import (
    Camera, ClassMembership, ClassTeacher, ConsentRecord, FaceTemplate, School, SchoolClass, Student, User,
)

DEFAULT_MODEL_ID = "dlib_resnet_v1"
_counter = itertools.count(1)


def fake_embedding(seed: int, dim: int = 128, scale: float = 0.1) -> np.ndarray:
    """The same deterministic fake vector as conftest's ``make_embedding``: one seed, one 'person'."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(dim) * scale).astype(np.float32)


def make_school(session, code: str | None = None, name: str | None = None, *,
                timezone: str = "Asia/Ho_Chi_Minh", school_days: str = "1,2,3,4,5",
                on_time_cutoff: dt.time = dt.time(7, 0),
                absence_cutoff: dt.time = dt.time(9, 0), holidays: Iterable[dt.date] = ()) -> School:
    """A school (default zone Asia/Ho_Chi_Minh, Mon-Fri, on time by 07:00, absent after 09:00)."""
    n = next(_counter)
    code = code or f"SCH{n}"
    school = School(code=code, name=name or f"Trường {code}", timezone=timezone, school_days=school_days,
                    on_time_cutoff=on_time_cutoff, absence_cutoff=absence_cutoff)
    session.add(school)
    session.flush()
    if holidays:
        from attendance.db.models import Holiday

        for day in holidays:
            session.add(Holiday(school_id=school.id, day=day, name="holiday"))
        session.flush()
    return school


def make_class(session, school: School, code: str | None = None, *, grade: int | None = None,
               school_year: str = "2026-2027") -> SchoolClass:
    """A class of ``school`` (code like ``6A1``)."""
    code = code or f"6A{next(_counter)}"
    school_class = SchoolClass(school_id=school.id, code=code, grade=grade, school_year=school_year)
    session.add(school_class)
    session.flush()
    return school_class


def make_student(session, school_class: SchoolClass | None = None, code: str | None = None,
                 full_name: str | None = None, *, school: School | None = None,
                 templates: int | Sequence[int] = 0, model_id: str = DEFAULT_MODEL_ID,
                 active: bool = True, consent: bool = True, dim: int = 128,
                 joined_on: dt.date | None = None, snapshots: bool = True, photos: bool = True) -> Student:
    """A student of ``school_class`` (or of ``school`` with no class), on its roll since ``joined_on`` (None:
    since always, so a test's fake clock may be at any date).

    ``templates`` is a count (seeds derived from the student id) or a list of seeds for ``fake_embedding``;
    each becomes a FaceTemplate of ``model_id``. ``consent`` gives the student a current consent record
    covering recognition, and ``snapshots``/``photos`` as asked (no record at all without ``consent``).
    """
    if school_class is None and school is None:
        raise ValueError("make_student needs a class or a school")
    school_id = school.id if school is not None else school_class.school_id
    n = next(_counter)
    student = Student(
        school_id=school_id, class_id=school_class.id if school_class is not None else None,
        student_code=code or f"HS{n:05d}",
        full_name=unicodedata.normalize("NFC", full_name or f"Nguyễn Văn {n}"),
        active=active, consent_given=consent, consent_by="Phụ huynh" if consent else "",
        consent_at=dt.datetime(2026, 8, 1, tzinfo=dt.timezone.utc) if consent else None,
    )
    session.add(student)
    session.flush()
    if consent:
        session.add(ConsentRecord(school_id=school_id, student_id=student.id, guardian_name="Phụ huynh",
                                  guardian_relation="mẹ", given_on=dt.date(2026, 8, 1), recognition=True,
                                  snapshots=snapshots, photos=photos, note="test", recorded_by="test"))
    for membership in session.scalars(select(ClassMembership).where(ClassMembership.student_id == student.id)):
        membership.from_date = joined_on
    seeds = range(student.id * 100, student.id * 100 + templates) if isinstance(templates, int) else templates
    for seed in seeds:
        vector = fake_embedding(seed, dim)
        session.add(FaceTemplate(student_id=student.id, model_id=model_id, vector=vector.astype("<f4").tobytes(),
                                 quality=1.0))
    session.flush()
    return student


def make_camera(session, school: School, name: str | None = None, location: str = "Cổng chính",
                ) -> tuple[Camera, str]:
    """A camera of ``school`` and its bearer token (``cam_...``), made by ``attendance.cameras``."""
    from attendance.cameras import create_camera

    return create_camera(session, school, name or f"gate-{next(_counter)}", location)


def make_user(session, username: str | None = None, *, school: School | None = None, role: str = "teacher",
              password: str = "correct horse battery", full_name: str = "", language: str = "vi",
              classes: Iterable[SchoolClass] = (), active: bool = True) -> User:
    """A user (default: a teacher; ``school=None`` with ``role="district_admin"`` for a district admin).

    The password is hashed with argon2 at the lowest cost (tests only); ``classes`` makes the user their
    homeroom teacher.
    """
    from argon2 import PasswordHasher

    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    user = User(school_id=school.id if school is not None else None, username=username or f"user{next(_counter)}",
                full_name=full_name, role=role, password_hash=hasher.hash(password), active=active,
                language=language, session_token=f"tok{next(_counter)}")
    session.add(user)
    session.flush()
    for school_class in classes:
        session.add(ClassTeacher(class_id=school_class.id, user_id=user.id))
    session.flush()
    return user
