"""The batch writer: commits, then reports; a refused submission fails alone, the rest is stored."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from api.db import engine_for
from fleet.jt808.writer import PositionWriter
from fleet.tracks.store import Terminal, count_positions
from tests.conftest import postgres_schema_engine

T0 = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)


def row(phone: str, second: int) -> tuple:
    return (phone, T0 + timedelta(seconds=second), T0, 22.5, 114.0, 5, 30.0, 90, 0, 3, None, False, "")


def test_close_flushes_everything_submitted(tmp_path) -> None:
    engine = engine_for(f"sqlite:///{tmp_path / 'w.db'}")  # the schema comes from the migrations
    with Session(engine) as session:
        session.add(Terminal(phone="1", auth_hash="", registered_at=T0))
        session.commit()
    writer = PositionWriter(engine, max_batch_rows=100, gather_s=0.2)
    writer.start()
    done: list = []
    for second in range(1000):
        writer.submit([row("1", second), row("1", second)], done.append)  # each twice: stored once
    assert writer.close(timeout_s=60)
    assert done == [None] * 1000
    assert count_positions(engine) == 1000
    assert writer.stats.batches >= 10


@pytest.mark.postgres
def test_refused_rows_fail_alone() -> None:
    with postgres_schema_engine("jt808_writer") as engine:
        with Session(engine) as session:
            session.add(Terminal(phone="1", auth_hash="", registered_at=T0))
            session.commit()

        async def scenario() -> list:
            writer = PositionWriter(engine, gather_s=0.2)
            writer.start()
            results = await asyncio.gather(
                writer.write([row("1", 1), row("1", 2)]),
                writer.write([row("unregistered", 1)]),  # foreign key violation
                writer.write([row("1", 3)]),
                return_exceptions=True,
            )
            assert writer.close(timeout_s=30)
            return results

        first, refused, third = asyncio.run(scenario())
        assert first is None and third is None
        assert isinstance(refused, Exception) and "foreign key" in str(refused).lower()
        assert count_positions(engine) == 3
