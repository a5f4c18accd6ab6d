"""live pages and leave requests: per-school and per-class change counters, students excused ahead of time

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 10:30:00
"""
from alembic import op
import sqlalchemy as sa



revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('leave_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('first_date', sa.Date(), nullable=False),
    sa.Column('last_date', sa.Date(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['cancelled_by_id'], ['users.id'], name=op.f('fk_leave_requests_cancelled_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_leave_requests_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_leave_requests_school_id_schools'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['student_id'], ['students.id'], name=op.f('fk_leave_requests_student_id_students'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_leave_requests'))
    )
    with op.batch_alter_table('leave_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_leave_requests_school_id'), ['school_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_leave_requests_student_id'), ['student_id'], unique=False)

    op.create_table('school_changes',
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['schools.id'], name=op.f('fk_school_changes_school_id_schools'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('school_id', name=op.f('pk_school_changes'))
    )
    op.create_table('class_changes',
    sa.Column('class_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['class_id'], ['school_classes.id'], name=op.f('fk_class_changes_class_id_school_classes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('class_id', name=op.f('pk_class_changes'))
    )


def downgrade() -> None:
    op.drop_table('class_changes')
    op.drop_table('school_changes')
    with op.batch_alter_table('leave_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_leave_requests_student_id'))
        batch_op.drop_index(batch_op.f('ix_leave_requests_school_id'))
    op.drop_table('leave_requests')
