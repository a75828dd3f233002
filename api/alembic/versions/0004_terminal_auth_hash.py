"""terminal auth codes stored hashed: ``auth_code`` becomes ``auth_hash`` (SHA-256 hex of the code)

Existing codes are hashed in place, so a terminal authenticates with the code it already
has. Terminals the HTTP API created (protocol ``http``) never received their code: they
are left unbound (empty hash) so the device may still register over JT/T 808.
A table created by a gateway that already stores hashes (see 0001) is left as it is.
Downgrade renames the column back; the hashes cannot be reversed, so every terminal is
unbound (empty code) and must register again.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 10:00:00.000000
"""

import hashlib

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def _columns() -> set[str]:
    return {column['name'] for column in sa.inspect(op.get_bind()).get_columns('terminal')}


def upgrade() -> None:
    if 'auth_code' not in _columns():
        return
    bind = op.get_bind()
    terminal = sa.table(
        'terminal', sa.column('phone', sa.String), sa.column('auth_code', sa.String), sa.column('protocol', sa.String)
    )
    rows = bind.execute(sa.select(terminal.c.phone, terminal.c.auth_code, terminal.c.protocol)).all()
    for phone, code, protocol in rows:
        hashed = '' if protocol == 'http' or not code else hashlib.sha256(code.encode('utf-8')).hexdigest()
        bind.execute(terminal.update().where(terminal.c.phone == phone).values(auth_code=hashed))
    with op.batch_alter_table('terminal', schema=None) as batch_op:
        batch_op.alter_column(
            'auth_code', new_column_name='auth_hash', existing_type=sa.String(length=64), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table('terminal', schema=None) as batch_op:
        batch_op.alter_column(
            'auth_hash', new_column_name='auth_code', existing_type=sa.String(length=64), existing_nullable=False
        )
    op.execute(sa.text("UPDATE terminal SET auth_code = ''"))
