"""unknown faces: the nearest student the agent found (a hint for the reviewer, and for grouping sightings)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 10:25:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('unknown_faces', schema=None) as batch_op:
        batch_op.add_column(sa.Column('nearest_student_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_unknown_faces_nearest_student_id_students'), 'students',
                                    ['nearest_student_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('unknown_faces', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_unknown_faces_nearest_student_id_students'), type_='foreignkey')
        batch_op.drop_column('nearest_student_id')
