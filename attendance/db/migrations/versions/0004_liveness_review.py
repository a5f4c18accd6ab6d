"""liveness review: check-ins flagged as suspected presentation attacks, refused ones kept as flagged unknowns

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 09:35:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review_status', sa.String(length=12), nullable=True))
    with op.batch_alter_table('unknown_faces', schema=None) as batch_op:
        batch_op.add_column(sa.Column('flag', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('claimed_student_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_unknown_faces_claimed_student_id_students'), 'students',
                                    ['claimed_student_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('unknown_faces', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_unknown_faces_claimed_student_id_students'), type_='foreignkey')
        batch_op.drop_column('claimed_student_id')
        batch_op.drop_column('flag')
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.drop_column('review_status')
