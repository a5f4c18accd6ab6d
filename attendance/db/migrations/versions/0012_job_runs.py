"""job runs: when each background job shared by the dashboard processes last ran (purge, absence notices)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 12:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'job_runs',
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('period', sa.String(length=32), nullable=False),
        sa.Column('ran_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_job_runs')),
    )


def downgrade() -> None:
    op.drop_table('job_runs')
