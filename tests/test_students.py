"""Adding and changing a student: one rule (attendance.students) for the admin page, the import and the CLI."""

import datetime as dt

import pytest
from sqlalchemy import select

from attendance.consent import ConsentAnswer, current_record, has_recognition_consent
from attendance.db.models import AuditEntry
from attendance.errors import Conflict, InvalidInput
from attendance.students import add_student, build_student, get_or_create_student, update_student
from factories import make_class, make_school, make_student

YOUNG = dt.date(2021, 3, 9)  # under 7: no child agreement needed


def audit_actions(session):
    return [(a.actor, a.action, a.target) for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_a_student_is_added_checked_normalised_and_audited(session):
    school = make_school(session, "LL")
    klass = make_class(session, school, "6A1")
    student = add_student(session, school, " HS01 ", "  Nguyễn   Văn An ", school_class=klass,
                          date_of_birth=YOUNG, actor="user:an", instance_path=None)
    assert (student.student_code, student.full_name, student.class_id, student.active) == (
        "HS01", "Nguyễn Văn An", klass.id, True)
    assert audit_actions(session) == [("user:an", "student.create", "student:HS01")]
    assert current_record(session, student) is None and not has_recognition_consent(student)


@pytest.mark.parametrize("code, name", [("bad code!", "An"), ("HS02", "   "), ("HS02", "A" * 201)])
def test_a_bad_code_or_name_is_refused(session, code, name):
    school = make_school(session)
    with pytest.raises(InvalidInput):
        add_student(session, school, code, name)


def test_a_code_in_use_and_a_class_of_another_school_are_refused(session):
    school, other = make_school(session), make_school(session)
    make_student(session, make_class(session, school), "HS01")
    with pytest.raises(Conflict, match="HS01"):
        add_student(session, school, "HS01", "Trần Thị Bình")
    with pytest.raises(InvalidInput, match="unknown class"):
        build_student(school, "HS03", "Lê Văn Cường", school_class=make_class(session, other))
    assert add_student(session, other, "HS01", "Trần Thị Bình").school_id == other.id  # codes are per school


def test_consent_that_comes_with_the_student_is_recorded(session):
    school = make_school(session)
    answer = ConsentAnswer(guardian_name="Nguyễn Văn Bố", given_on=dt.date(2026, 9, 1), recognition=True,
                           snapshots=False, photos=True)
    student = add_student(session, school, "HS05", "Võ Văn Em", date_of_birth=YOUNG, consent=answer,
                          actor="user:an", instance_path=None)
    record = current_record(session, student)
    assert (record.guardian_name, record.recognition, record.snapshots) == ("Nguyễn Văn Bố", True, False)
    assert has_recognition_consent(student)
    assert [action for _, action, _ in audit_actions(session)] == ["student.create", "consent.record"]


def test_enrollment_adds_new_students_with_its_consent_and_leaves_an_existing_ones_alone(session):
    school = make_school(session)
    existing = make_student(session, make_class(session, school), "HS01", "An", consent=False)
    bulk = ConsentAnswer(guardian_name="bulk enrollment", given_on=dt.date(2026, 9, 1), recognition=True,
                         snapshots=True, photos=True, require_child_agreement=False)
    same, created = get_or_create_student(session, school, "HS01", "Nguyễn Văn An", None, consent=bulk)
    assert same is existing and not created and same.full_name == "Nguyễn Văn An"
    assert not has_recognition_consent(same)  # a withdrawn or missing consent is the school's record
    new, created = get_or_create_student(session, school, "HS02", "Bình", None, consent=bulk)
    assert created and has_recognition_consent(new)


def test_a_student_is_changed_by_the_same_rules(session):
    school = make_school(session)
    klass = make_class(session, school, "6A1")
    make_student(session, klass, "HS01")
    student = make_student(session, klass, "HS02")
    with pytest.raises(Conflict):
        update_student(session, student, "HS01", "Bình", school_class=None, date_of_birth=None, active=True)
    update_student(session, student, "HS22", " Trần  Bình ", school_class=None, date_of_birth=YOUNG,
                   active=False, actor="user:an")
    assert (student.student_code, student.full_name, student.class_id, student.active) == (
        "HS22", "Trần Bình", None, False)
    assert audit_actions(session)[-1] == ("user:an", "student.update", "student:HS22")
