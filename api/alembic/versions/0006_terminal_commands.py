"""terminal commands: the durable queue of platform → terminal messages (``terminal_command``)

Text messages (0x8300), areas (0x8602, 0x8604) and routes (0x8606) queued for a terminal wait
here until the gateway that holds its connection sends them; the terminal's general answer
(0x0001) is recorded against them. States: queued → sent → answered | expired | failed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 12:30:00.000000
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel
import fleet.tracks.store


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('terminal_command',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('msg_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_at', fleet.tracks.store.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', fleet.tracks.store.UtcDateTime(timezone=True), nullable=False),
    sa.Column('serial', sa.Integer(), nullable=True),
    sa.Column('sent_at', fleet.tracks.store.UtcDateTime(timezone=True), nullable=True),
    sa.Column('answered_at', fleet.tracks.store.UtcDateTime(timezone=True), nullable=True),
    sa.Column('result', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['phone'], ['terminal.phone'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('terminal_command', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_terminal_command_phone'), ['phone'], unique=False)
        batch_op.create_index('ix_terminal_command_state_expires', ['state', 'expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('terminal_command', schema=None) as batch_op:
        batch_op.drop_index('ix_terminal_command_state_expires')
        batch_op.drop_index(batch_op.f('ix_terminal_command_phone'))
    op.drop_table('terminal_command')
