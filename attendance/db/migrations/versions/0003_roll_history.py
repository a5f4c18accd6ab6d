"""roll history: class memberships and school rule changes by date; check-in source

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 09:45:00

Existing students keep their place: an active student with a class is a member "since always"; a
deactivated one is a member until the day after their last check-in or override (so past rolls keep them
on the days they have records, as before). Existing check-ins came from cameras.
"""
import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('class_memberships',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('class_id', sa.Integer(), nullable=False),
    sa.Column('from_date', sa.Date(), nullable=True),
    sa.Column('until_date', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['class_id'], ['school_classes.id'], name=op.f('fk_class_memberships_class_id_school_classes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_class_memberships_student_id_students'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_class_memberships'))
    )
    with op.batch_alter_table('class_memberships', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_class_memberships_class_id'), ['class_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_class_memberships_student_id'), ['student_id'], unique=False)

    op.create_table('school_rule_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=True),
    sa.Column('school_days', sa.String(length=20), nullable=False),
    sa.Column('on_time_cutoff', sa.Time(), nullable=False),
    sa.Column('absence_cutoff', sa.Time(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_school_rule_changes_school_id_schools'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school_rule_changes'))
    )
    with op.batch_alter_table('school_rule_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_rule_changes_school_id'), ['school_id'], unique=False)

    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=12), server_default='camera', nullable=False))

    _backfill_memberships()


def _backfill_memberships() -> None:
    connection = op.get_bind()
    students = sa.table('students', sa.column('id'), sa.column('class_id'), sa.column('active'))
    checkins = sa.table('checkins', sa.column('student_id'), sa.column('school_date'))
    overrides = sa.table('roll_overrides', sa.column('student_id'), sa.column('school_date'))
    memberships = sa.table('class_memberships', sa.column('student_id'), sa.column('class_id'),
                           sa.column('from_date', sa.Date()), sa.column('until_date', sa.Date()))
    last_days: dict[int, dt.date] = {}
    for table in (checkins, overrides):
        for student_id, day in connection.execute(
                sa.select(table.c.student_id, sa.func.max(table.c.school_date)).group_by(table.c.student_id)):
            if isinstance(day, str):
                day = dt.date.fromisoformat(day)
            if day is not None and (student_id not in last_days or day > last_days[student_id]):
                last_days[student_id] = day
    rows = []
    for student_id, class_id, active in connection.execute(
            sa.select(students.c.id, students.c.class_id, students.c.active).where(students.c.class_id.is_not(None))):
        if active:
            rows.append({"student_id": student_id, "class_id": class_id, "from_date": None, "until_date": None})
        elif student_id in last_days:
            rows.append({"student_id": student_id, "class_id": class_id, "from_date": None,
                         "until_date": last_days[student_id] + dt.timedelta(days=1)})
    if rows:
        connection.execute(memberships.insert(), rows)


def downgrade() -> None:
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.drop_column('source')
    with op.batch_alter_table('school_rule_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_rule_changes_school_id'))
    op.drop_table('school_rule_changes')
    with op.batch_alter_table('class_memberships', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_class_memberships_student_id'))
        batch_op.drop_index(batch_op.f('ix_class_memberships_class_id'))
    op.drop_table('class_memberships')
