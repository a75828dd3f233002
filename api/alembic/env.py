"""Alembic environment: migrations run programmatically (``api.db.upgrade``) or via ``alembic -c api/alembic.ini``.

The database is the one ``api.db.upgrade`` was given, else ``settings.service.database_url``
(``QINGYUN_DATABASE_URL``). The migrations are the only way tables are created.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool
from sqlmodel import SQLModel

import api.tables  # noqa: F401  (registers every table on the metadata)

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    if "database_url" in config.attributes:
        return config.attributes["database_url"]
    from api.db import normalised_url
    from api.settings import get_settings

    return normalised_url(get_settings().service.database_url)


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
