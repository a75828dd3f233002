"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.conftest import drop_postgres_database, postgres_database


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migrations_match_the_models_and_coexist_with_the_gateways_tables(kind, tmp_path):
    import sqlalchemy as sa
    from alembic import command

    from api.db import alembic_config, normalised_url, upgrade
    from fleet.tracks.store import Position, Terminal

    url = f"sqlite:///{tmp_path / 'q.db'}" if kind == "sqlite" else postgres_database()
    try:
        legacy = sa.create_engine(normalised_url(url))  # a database where an old gateway created its two tables
        Terminal.__table__.create(legacy)
        Position.__table__.create(legacy)
        legacy.dispose()
        upgrade(url)
        command.check(alembic_config(url))  # raises when models and migrations differ
        engine = sa.create_engine(normalised_url(url))
        tables = set(sa.inspect(engine).get_table_names())
        engine.dispose()
        assert {
            "site",
            "vehicle",
            "depot",
            "facility",
            "plan",
            "plan_route",
            "plan_stop",
            "terminal",
            "position",
            "permit",
            "zone",
            "violation",
            "company",
            "company_score",
            "station_study",
            "api_key",
            "job",
        } <= tables
    finally:
        if kind == "postgresql":
            drop_postgres_database(url)
