"""alarm events and live fixes: the alarm event log (``alarm_event``) and each truck's newest fix (``live_fix``)

The live path appends every change of an alarm (start, update, end, withdrawn, acknowledged,
handled) to ``alarm_event``, which ``GET /alarms/stream`` reads by id (AUTOINCREMENT on SQLite, so
ids are never reused); ``live_fix`` keeps the newest fix per terminal for ``GET /live``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 05:45:00.000000
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import fleet.tracks.store


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alarm_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alarm_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('received_at', fleet.tracks.store.UtcDateTime(timezone=True), nullable=True),
    sa.Column('published_at', fleet.tracks.store.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alarm_id'], ['alarm.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('alarm_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alarm_event_alarm_id'), ['alarm_id'], unique=False)

    op.create_table('live_fix',
    sa.Column('device', sa.String(length=20), nullable=False),
    sa.Column('gps_time', fleet.tracks.store.UtcDateTime(timezone=True), nullable=False),
    sa.Column('received_at', fleet.tracks.store.UtcDateTime(timezone=True), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('speed_kmh', sa.Float(), nullable=False),
    sa.Column('heading', sa.Integer(), nullable=False),
    sa.Column('status', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('device')
    )
    with op.batch_alter_table('live_fix', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_live_fix_received_at'), ['received_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('live_fix', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_live_fix_received_at'))

    op.drop_table('live_fix')
    with op.batch_alter_table('alarm_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alarm_event_alarm_id'))

    op.drop_table('alarm_event')
