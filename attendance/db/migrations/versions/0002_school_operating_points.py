"""school operating points (calibration on a school's own students)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 09:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('school_operating_points',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('model_id', sa.String(length=64), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('margin', sa.Float(), nullable=False),
    sa.Column('target_fpir', sa.Float(), nullable=False),
    sa.Column('expected_fpir', sa.Float(), nullable=True),
    sa.Column('expected_fnir', sa.Float(), nullable=True),
    sa.Column('students', sa.Integer(), nullable=False),
    sa.Column('photos', sa.Integer(), nullable=False),
    sa.Column('set_by', sa.String(length=120), nullable=False),
    sa.Column('set_by_id', sa.Integer(), nullable=True),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_school_operating_points_school_id_schools'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['set_by_id'], ['users.id'], name=op.f('fk_school_operating_points_set_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school_operating_points')),
    sa.UniqueConstraint('school_id', 'model_id', name='uq_school_operating_points_school_model')
    )
    with op.batch_alter_table('school_operating_points', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_operating_points_school_id'), ['school_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('school_operating_points', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_operating_points_school_id'))
    op.drop_table('school_operating_points')
