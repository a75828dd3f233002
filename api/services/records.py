"""Stored records by id: read, create, replace, delete and page, with errors that name the id.

Used by the catalogue (sites, vehicles, vehicle types, depots, facilities) and by the supervisor's
permits and zones. A missing record is a ``NotFoundError`` (404), a duplicate a ``ConflictError``
(409), a body that contradicts its URL an ``InvalidInputError`` (422).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, TypeVar

from pydantic import BaseModel, BeforeValidator
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel, func, select
from sqlmodel.sql.expression import SelectOfScalar

from routing.errors import ConflictError, InvalidInputError, NotFoundError

Row = TypeVar("Row", bound=SQLModel)

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _iso_only(value: object) -> object:
    """Only ISO 8601 text is a time here (pydantic would also read ``0.5`` as seconds after 1970)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError(f"{value!r} is not an ISO 8601 date-time, e.g. 2026-11-22T06:00:00+08:00")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_only)]
"""A request's time: ISO 8601 text only (the schema's ``date-time``)."""


def get_record(session: Session, table: type[Row], record_id: str, *, what: str) -> Row:
    """The row with this id.

    Parameters
    ----------
    session
        The request's session.
    table
        The table to read.
    record_id
        The id the request named.
    what
        The record's name in the error ("sites", "permit" …).

    Returns
    -------
    Row
        The row.

    Raises
    ------
    NotFoundError
        No row has this id.
    """
    row = session.get(table, record_id)
    if row is None:
        raise NotFoundError(f"{what}: no id {record_id!r}")
    return row


def delete_record(session: Session, table: type[SQLModel], record_id: str, *, what: str) -> None:
    """Delete the row with this id; raises ``NotFoundError`` naming it when there is none.

    Parameters
    ----------
    session
        The request's session; committed.
    table
        The table to delete from.
    record_id
        The id the request named.
    what
        The record's name in the error ("sites", "permit" …).

    Raises
    ------
    NotFoundError
        No row has this id.
    """
    session.delete(get_record(session, table, record_id, what=what))
    session.commit()


def create_record(session: Session, table: type[SQLModel], record: BaseModel, *, what: str) -> None:
    """Store a new record; raises ``ConflictError`` when its id is taken (``PUT`` replaces).

    Parameters
    ----------
    session, table, what
        As for :func:`delete_record`; ``what`` also names the ``PUT`` path the error suggests.
    record
        The validated record; its ``id`` is the key.

    Raises
    ------
    ConflictError
        A row already has this id.
    """
    record_id = record.id  # type: ignore[attr-defined]
    if session.get(table, record_id) is not None:
        raise ConflictError(f"{what}: id {record_id!r} already exists; PUT /{what}/{record_id} replaces it")
    session.add(table(**record.model_dump(mode="json")))
    session.commit()


def replace_record(session: Session, table: type[SQLModel], record_id: str, record: BaseModel, *, what: str) -> None:
    """Create or replace the record at ``record_id``; raises ``InvalidInputError`` when the body names another id.

    Parameters
    ----------
    session
        The request's session; committed.
    table
        The table to store in (its columns are the record's fields).
    record_id
        The id in the request's path.
    record
        The validated body.
    what
        The record's name in the error.

    Raises
    ------
    InvalidInputError
        The body's ``id`` differs from ``record_id``.
    """
    if record.id != record_id:  # type: ignore[attr-defined]
        raise InvalidInputError(f"{what}: body id {record.id!r} differs from the path id {record_id!r}")  # type: ignore[attr-defined]
    store_records(session, table, [record])


def store_records(session: Session, table: type[SQLModel], records: Iterable[BaseModel]) -> None:
    """Create or replace records by id (one transaction, one upsert statement per thousand records).

    Parameters
    ----------
    session
        The request's session; committed once, after every record.
    table
        The table to store in (its columns are the records' fields).
    records
        Validated records; one whose id is stored replaces that row.
    """
    columns = table.__table__.columns
    key = [c.name for c in columns if c.primary_key]
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(table.__table__)
    statement = statement.on_conflict_do_update(
        index_elements=key, set_={c.name: statement.excluded[c.name] for c in columns if not c.primary_key}
    )
    batch: list[dict] = []
    for record in records:
        # through the table model, so its defaults fill what the record leaves out
        batch.append(table.model_validate(record.model_dump(mode="json")).model_dump(include=set(columns.keys())))
        if len(batch) == 1000:
            session.execute(statement, batch)
            batch = []
    if batch:
        session.execute(statement, batch)
    session.commit()


def where_equal(query: SelectOfScalar[Row], filters: Iterable[tuple]) -> SelectOfScalar[Row]:
    """``query`` narrowed to rows whose column equals each given value; a ``None`` value filters nothing.

    Parameters
    ----------
    query
        The query to narrow.
    filters
        ``(column, value)`` pairs, one per optional equality filter of a list request.

    Returns
    -------
    SelectOfScalar
        The narrowed query.
    """
    for column, value in filters:
        if value is not None:
            query = query.where(column == value)
    return query


def page(
    session: Session, query: SelectOfScalar[Row], *, order_by: tuple, limit: int, offset: int
) -> tuple[int, list[Row]]:
    """One page of a query's rows and the query's total row count.

    Parameters
    ----------
    session
        The request's session.
    query
        The filtered query.
    order_by
        Columns giving the page order (ids last, so pages never overlap).
    limit, offset
        The page.

    Returns
    -------
    tuple[int, list[Row]]
        Total rows matching, and this page's rows.
    """
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    return total, list(session.exec(query.order_by(*order_by).offset(offset).limit(limit)))
