"""schools: drop checkin_opens (nothing read it: the roll counts a check-in at any hour, no agent used it)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 12:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Never by copying the table (batch's default on SQLite): dropping the old ``schools`` would run an implicit
    # DELETE whose ON DELETE CASCADE empties every table below it, foreign keys being on in every connection.
    # SQLite >= 3.35 (Python 3.11 ships 3.40 or later) drops a plain column in place.
    with op.batch_alter_table('schools', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('checkin_opens')


def downgrade() -> None:
    # the ORM's old default, as a server default so the schools already there get it too
    with op.batch_alter_table('schools', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('checkin_opens', sa.Time(), nullable=False, server_default='05:30:00'))
