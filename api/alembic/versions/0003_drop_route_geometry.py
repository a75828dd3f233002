"""plan routes lose their geometry column: the stored routes.geojson (0002) carries it

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 22:50:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('plan_route', schema=None) as batch_op:
        batch_op.drop_column('geometry')


def downgrade() -> None:
    with op.batch_alter_table('plan_route', schema=None) as batch_op:
        batch_op.add_column(sa.Column('geometry', sa.JSON(), nullable=False, server_default='[]'))
