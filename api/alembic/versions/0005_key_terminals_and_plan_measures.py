"""device keys bound to terminals (``api_key.terminals``), site attributes, plan measures and stop places

A device key stores positions only for its terminals (comma-separated normalised phones, ``*`` =
every terminal). Keys issued before this revision get NULL: a device key without terminals may
write for none, so such keys must be issued again with ``qingyun keys create --role device
--terminal PHONE``; keys of other roles are not affected. ``site.attributes`` holds the other columns of an imported
sites file (JSON object of text; NULL for sites stored before). ``plan.measures`` keeps plan.json's
dispatcher measures and ``plan_stop.at`` the kind of place a break or wait is taken at (NULL for plans
solved before).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 12:00:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.add_column(sa.Column('terminals', sa.Text(), nullable=True))
    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attributes', sa.JSON(), nullable=True))
    with op.batch_alter_table('plan', schema=None) as batch_op:
        batch_op.add_column(sa.Column('measures', sa.JSON(), nullable=True))
    with op.batch_alter_table('plan_stop', schema=None) as batch_op:
        batch_op.add_column(sa.Column('at', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('plan_stop', schema=None) as batch_op:
        batch_op.drop_column('at')
    with op.batch_alter_table('plan', schema=None) as batch_op:
        batch_op.drop_column('measures')
    with op.batch_alter_table('site', schema=None) as batch_op:
        batch_op.drop_column('attributes')
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_column('terminals')
