"""The positions store: an engine is only an engine; the tables come from the Alembic migrations."""

from __future__ import annotations

import sqlalchemy as sa

from fleet.tracks.store import count_positions, make_engine


def test_make_engine_creates_no_table_and_the_migrations_create_the_store(tmp_path) -> None:
    from api.db import upgrade

    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = make_engine(url)
    with engine.connect() as connection:
        assert sa.inspect(connection).get_table_names() == []
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    upgrade(url)
    with engine.connect() as connection:
        tables = set(sa.inspect(connection).get_table_names())
    assert {"terminal", "position", "alembic_version"} <= tables
    assert count_positions(engine) == 0
    engine.dispose()
