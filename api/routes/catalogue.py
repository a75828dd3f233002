"""CRUD and CSV/GeoJSON import of the dispatcher's catalogue: sites, vehicles, vehicle types, depots, facilities.

Records are validated by ``routing.planning.scenario`` itself, so what the API accepts is exactly what
the planner can solve.
"""

from fastapi import APIRouter, Depends, File, HTTPException, Query, Request, UploadFile
from pydantic import BaseModel, Field
from sqlmodel import Session, SQLModel, func, select

from api import auth
from api.deps import db_session
from api.services.imports import parse_upload
from api.tables import DepotRow, FacilityRow, SiteRow, VehicleRow, VehicleTypeRow
from routing.planning import scenario as model


class VehicleIn(model.Vehicle):
    """A truck; ``terminal`` links it to its JT/T 808 GPS terminal (phone) for track playback."""

    terminal: str | None = Field(None, min_length=1, max_length=20, description="terminal phone number")


class ImportResult(BaseModel):
    imported: int
    rejected: list[dict]


class Page(BaseModel):
    total: int
    items: list[dict]


def _catalogue(path: str, *, table: type[SQLModel], schema: type[BaseModel], label: str) -> APIRouter:
    router = APIRouter(prefix=f"/{path}", tags=[label], dependencies=[auth.dispatcher])

    def to_row(record: BaseModel) -> SQLModel:
        return table(**record.model_dump(mode="json"))

    @router.get("", response_model=Page, summary=f"list {path}")
    def list_items(
        request: Request,
        session: Session = Depends(db_session),
        limit: int = Query(100, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=10**9),
    ) -> Page:
        total = session.exec(select(func.count()).select_from(table)).one()
        rows = session.exec(select(table).order_by(table.id).offset(offset).limit(limit))
        return Page(total=total, items=[r.model_dump() for r in rows])

    @router.post("", status_code=201, response_model=schema, summary=f"create one of {path}")
    def create(record: schema, session: Session = Depends(db_session)):  # type: ignore[valid-type]
        if session.get(table, record.id) is not None:
            raise HTTPException(409, f"{path}: id {record.id!r} already exists; PUT /{path}/{record.id} replaces it")
        session.add(to_row(record))
        session.commit()
        return record

    @router.get("/{item_id}", response_model=schema, summary=f"one of {path}")
    def read(item_id: str, session: Session = Depends(db_session)):
        row = session.get(table, item_id)
        if row is None:
            raise HTTPException(404, f"{path}: no id {item_id!r}")
        return row.model_dump()

    @router.put("/{item_id}", response_model=schema, summary=f"create or replace one of {path}")
    def replace(item_id: str, record: schema, session: Session = Depends(db_session)):  # type: ignore[valid-type]
        if record.id != item_id:
            raise HTTPException(422, f"{path}: body id {record.id!r} differs from the path id {item_id!r}")
        session.merge(to_row(record))
        session.commit()
        return record

    @router.delete("/{item_id}", status_code=204, summary=f"delete one of {path}")
    def remove(item_id: str, session: Session = Depends(db_session)) -> None:
        row = session.get(table, item_id)
        if row is None:
            raise HTTPException(404, f"{path}: no id {item_id!r}")
        session.delete(row)
        session.commit()

    @router.post(
        "/import", response_model=ImportResult, summary=f"import {path} from CSV or GeoJSON (create or replace by id)"
    )
    async def import_file(file: UploadFile = File(...), session: Session = Depends(db_session)) -> ImportResult:
        records, rejected = parse_upload(filename=file.filename or "upload", content=await file.read(), schema=schema)
        for record in records:
            session.merge(to_row(record))
        session.commit()
        result = ImportResult(imported=len(records), rejected=[r.__dict__ for r in rejected])
        if rejected and not records:
            raise HTTPException(422, result.model_dump())
        return result

    return router


routers = [
    _catalogue("sites", table=SiteRow, schema=model.Site, label="收集点 / sites"),
    _catalogue("vehicles", table=VehicleRow, schema=VehicleIn, label="车辆 / vehicles"),
    _catalogue("vehicle-types", table=VehicleTypeRow, schema=model.VehicleType, label="车型 / vehicle types"),
    _catalogue("depots", table=DepotRow, schema=model.Depot, label="车场 / depots"),
    _catalogue("facilities", table=FacilityRow, schema=model.Facility, label="处置设施 / facilities"),
]
