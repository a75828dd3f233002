"""alarms: stored alarms and their handling (``alarm``)

The supervision engine's alarms, one row per stable key, with their lifecycle:
open → acknowledged → handled (who, when, what was done, evidence) → closed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 04:10:32.842753
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import fleet.tracks.store


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alarm',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=512), nullable=False),
    sa.Column('device', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('company', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('severity', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('permit_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('zone_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('started_at', fleet.tracks.store.UtcDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', fleet.tracks.store.UtcDateTime(timezone=True), nullable=True),
    sa.Column('raised_at', fleet.tracks.store.UtcDateTime(timezone=True), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('withdrawn', sa.Boolean(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('acknowledged_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('acknowledged_at', fleet.tracks.store.UtcDateTime(timezone=True), nullable=True),
    sa.Column('handled_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('handled_at', fleet.tracks.store.UtcDateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('handling_evidence', sa.JSON(), nullable=True),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('alarm', schema=None) as batch_op:
        batch_op.create_index('ix_alarm_company_started', ['company', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alarm_device'), ['device'], unique=False)
        batch_op.create_index('ix_alarm_state_started', ['state', 'started_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('alarm', schema=None) as batch_op:
        batch_op.drop_index('ix_alarm_state_started')
        batch_op.drop_index(batch_op.f('ix_alarm_device'))
        batch_op.drop_index('ix_alarm_company_started')

    op.drop_table('alarm')
