"""gallery versions: a stored version per school and model, so an agent's unchanged poll is one indexed read;
an index on the day of roll overrides (the district page)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 12:30:00
"""
import uuid

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    versions = op.create_table('gallery_versions',
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('model_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_gallery_versions_school_id_schools'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('school_id', 'model_id', name=op.f('pk_gallery_versions'))
    )
    # Backfill: a row for each school's students and for each model it has templates or a point of, so the
    # agents' cached tags (the old hashes) all differ from the new ones and each downloads once.
    connection = op.get_bind()
    schools = connection.execute(sa.text("SELECT id FROM schools")).scalars().all()
    pairs = connection.execute(sa.text(
        "SELECT DISTINCT s.school_id, t.model_id FROM face_templates t JOIN students s ON s.id = t.student_id "
        "UNION SELECT school_id, model_id FROM school_operating_points")).all()
    rows = [{'school_id': school_id, 'model_id': '*', 'version': uuid.uuid4().hex} for school_id in schools]
    rows += [{'school_id': school_id, 'model_id': model_id, 'version': uuid.uuid4().hex}
             for school_id, model_id in pairs]
    if rows:
        op.bulk_insert(versions, rows)
    # the district page reads one day's marks of every school (attendance.district)
    op.create_index('ix_roll_overrides_school_date', 'roll_overrides', ['school_date'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_roll_overrides_school_date', table_name='roll_overrides')
    op.drop_table('gallery_versions')
