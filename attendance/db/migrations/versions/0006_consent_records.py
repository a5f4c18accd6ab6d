"""consent records with scopes and history, versioned privacy notices, data-subject requests

Students whose consent was on record before this revision get one consent record covering what the product
then did with their face (recognition, check-in snapshots, enrollment photos), with a note saying it was
migrated and naming no notice version: the school should have the guardian confirm it on the new form.

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-30 10:30:00
"""
import datetime as dt

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0004'
branch_labels = None
depends_on = None

MIGRATED_NOTE = ("migrated: consent recorded before consent records existed (guardian's name and date as then "
                 "entered; scopes as the product then used the face); confirm it with the guardian on the new form")


def upgrade() -> None:
    op.create_table(
        'consent_notices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('school_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('text_vi', sa.Text(), nullable=False),
        sa.Column('text_en', sa.Text(), nullable=False),
        sa.Column('published_by', sa.String(length=120), nullable=False),
        sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_consent_notices_school_id_schools'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_notices')),
        sa.UniqueConstraint('school_id', 'version', name='uq_consent_notices_school_version'),
    )
    op.create_index(op.f('ix_consent_notices_school_id'), 'consent_notices', ['school_id'], unique=False)
    op.create_table(
        'consent_records',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('school_id', sa.Integer(), nullable=False),
        sa.Column('student_id', sa.Integer(), nullable=False),
        sa.Column('notice_id', sa.Integer(), nullable=True),
        sa.Column('guardian_name', sa.String(length=200), nullable=False),
        sa.Column('guardian_relation', sa.String(length=50), nullable=False),
        sa.Column('child_agreed', sa.Boolean(), nullable=True),
        sa.Column('given_on', sa.Date(), nullable=False),
        sa.Column('recognition', sa.Boolean(), nullable=False),
        sa.Column('snapshots', sa.Boolean(), nullable=False),
        sa.Column('photos', sa.Boolean(), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('recorded_by', sa.String(length=120), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('withdrawn_by', sa.String(length=120), nullable=False),
        sa.Column('withdrawal_note', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['notice_id'], ['consent_notices.id'],
                                name=op.f('fk_consent_records_notice_id_consent_notices'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_consent_records_school_id_schools'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_consent_records_student_id_students'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_records')),
    )
    op.create_index(op.f('ix_consent_records_school_id'), 'consent_records', ['school_id'], unique=False)
    op.create_index(op.f('ix_consent_records_student_id'), 'consent_records', ['student_id'], unique=False)
    op.create_table(
        'data_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('school_id', sa.Integer(), nullable=False),
        sa.Column('student_id', sa.Integer(), nullable=True),
        sa.Column('student_code', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('requested_by', sa.String(length=200), nullable=False),
        sa.Column('received_on', sa.Date(), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('answer', sa.Text(), nullable=False),
        sa.Column('created_by', sa.String(length=120), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_data_requests_school_id_schools'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_data_requests_student_id_students'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_data_requests')),
    )
    op.create_index(op.f('ix_data_requests_school_id'), 'data_requests', ['school_id'], unique=False)
    op.create_index(op.f('ix_data_requests_student_id'), 'data_requests', ['student_id'], unique=False)
    _migrate_consented_students()


def _migrate_consented_students() -> None:
    """One record per student with consent on record: all three scopes, no notice version, a note."""
    connection = op.get_bind()
    now = dt.datetime.now(dt.timezone.utc)
    rows = connection.execute(sa.text(
        "SELECT id, school_id, consent_by, consent_at, created_at FROM students WHERE consent_given = :yes"),
        {"yes": True}).all()
    records = sa.table(
        'consent_records', *(sa.column(name) for name in (
            'school_id', 'student_id', 'guardian_name', 'guardian_relation', 'child_agreed', 'given_on',
            'recognition', 'snapshots', 'photos', 'note', 'recorded_by', 'recorded_at', 'withdrawn_by',
            'withdrawal_note')))
    values = []
    for student_id, school_id, consent_by, consent_at, created_at in rows:
        given = _as_date(consent_at) or _as_date(created_at) or now.date()
        values.append({'school_id': school_id, 'student_id': student_id, 'guardian_name': consent_by or '',
                       'guardian_relation': '', 'child_agreed': None, 'given_on': given, 'recognition': True,
                       'snapshots': True, 'photos': True, 'note': MIGRATED_NOTE, 'recorded_by': 'migration',
                       'recorded_at': now, 'withdrawn_by': '', 'withdrawal_note': ''})
    if values:
        op.bulk_insert(records, values)


def _as_date(value) -> dt.date | None:
    """A date from a datetime column as SQLite (a string) or PostgreSQL (a datetime) returns it."""
    if value is None:
        return None
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return value.date() if isinstance(value, dt.datetime) else value


def downgrade() -> None:
    op.drop_index(op.f('ix_data_requests_student_id'), table_name='data_requests')
    op.drop_index(op.f('ix_data_requests_school_id'), table_name='data_requests')
    op.drop_table('data_requests')
    op.drop_index(op.f('ix_consent_records_student_id'), table_name='consent_records')
    op.drop_index(op.f('ix_consent_records_school_id'), table_name='consent_records')
    op.drop_table('consent_records')
    op.drop_index(op.f('ix_consent_notices_school_id'), table_name='consent_notices')
    op.drop_table('consent_notices')
