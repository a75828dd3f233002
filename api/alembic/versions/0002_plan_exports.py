"""plan exports: the GeoJSON and route-sheet rows ``routing.planning.exports`` builds, stored with the plan

Both are filled when the solve job succeeds, so reading them needs no road network. Plans
solved before this revision keep NULL (their exports would need the network to rebuild).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import fleet.tracks.store


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('plan', schema=None) as batch_op:
        batch_op.add_column(sa.Column('geojson', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('sheets', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('plan', schema=None) as batch_op:
        batch_op.drop_column('sheets')
        batch_op.drop_column('geojson')
