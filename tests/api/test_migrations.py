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


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_0004_hashes_plain_auth_codes_and_the_terminal_still_authenticates(kind, tmp_path):
    """A database at 0003 with a plain code: after the upgrade only its hash is stored, and it still works."""
    import hashlib
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from api.db import normalised_url, upgrade
    from fleet.tracks.store import authenticate_terminal, register_terminal

    url = f"sqlite:///{tmp_path / 'q.db'}" if kind == "sqlite" else postgres_database()
    try:
        upgrade(url, revision="0003")
        engine = sa.create_engine(normalised_url(url))
        row = {"plate": "", "plate_color": 0, "province": 0, "city": 0, "maker": "", "model": "", "terminal_id": ""}
        now = datetime.now(UTC)
        with engine.begin() as connection:
            for phone, code, protocol in (("13800138000", "a1b2c3d4e5f60718", "2013"), ("13900000000", "x", "http")):
                connection.execute(
                    sa.text(
                        "INSERT INTO terminal (phone, auth_code, plate, plate_color, province, city, maker, model,"
                        " terminal_id, protocol, registered_at) VALUES (:phone, :code, :plate, :plate_color,"
                        " :province, :city, :maker, :model, :terminal_id, :protocol, :at)"
                    ),
                    {"phone": phone, "code": code, "protocol": protocol, "at": now.replace(tzinfo=None), **row},
                )
            connection.execute(
                sa.text(
                    "INSERT INTO position (terminal_phone, gps_time, received_at, lat, lon, altitude_m, speed_kmh,"
                    " heading, alarm, status, blind_area, items) VALUES ('13800138000', :at, :at, 22.5, 114.0,"
                    " 0, 0, 0, 0, 0, false, '')"
                ),
                {"at": now.replace(tzinfo=None)},
            )
        upgrade(url)
        with engine.connect() as connection:
            stored = dict(connection.execute(sa.text("SELECT phone, auth_hash FROM terminal")).all())
            positions = connection.execute(sa.text("SELECT count(*) FROM position")).scalar_one()
        assert stored == {"13800138000": hashlib.sha256(b"a1b2c3d4e5f60718").hexdigest(), "13900000000": ""}
        assert positions == 1
        assert authenticate_terminal(engine, phone="13800138000", code="a1b2c3d4e5f60718")
        assert not authenticate_terminal(engine, phone="13800138000", code="a1b2c3d4e5f60719")
        assert not authenticate_terminal(engine, phone="13900000000", code="x")
        assert register_terminal(engine, phone="13900000000", registration={})  # the HTTP-made terminal may bind
        engine.dispose()
    finally:
        if kind == "postgresql":
            drop_postgres_database(url)
