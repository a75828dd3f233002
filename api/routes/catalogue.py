"""CRUD and CSV/GeoJSON import of the dispatcher's catalogue: sites, vehicles, vehicle types, depots, facilities.

Records are validated by ``routing.planning.scenario`` itself, so what the API accepts is exactly what
the planner can solve.
"""

from fastapi import APIRouter, Depends, File, HTTPException, Query, UploadFile
from pydantic import BaseModel, Field
from sqlmodel import Session, SQLModel, select

from api import auth
from api.deps import db_session
from api.services.imports import parse_upload
from api.services.records import create_record, delete_record, get_record, page, replace_record, store_records
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

    @router.get("", response_model=Page, summary=f"list {path}")
    def list_items(
        session: Session = Depends(db_session),
        limit: int = Query(100, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=10**9),
    ) -> Page:
        total, rows = page(session, select(table), order_by=(table.id,), limit=limit, offset=offset)
        return Page(total=total, items=[r.model_dump() for r in rows])

    @router.post("", status_code=201, response_model=schema, summary=f"create one of {path}")
    def create(record: schema, session: Session = Depends(db_session)):  # type: ignore[valid-type]
        create_record(session, table, record, what=path)
        return record

    @router.get("/{item_id}", response_model=schema, summary=f"one of {path}")
    def read(item_id: str, session: Session = Depends(db_session)):
        return get_record(session, table, item_id, what=path).model_dump()

    @router.put("/{item_id}", response_model=schema, summary=f"create or replace one of {path}")
    def replace(item_id: str, record: schema, session: Session = Depends(db_session)):  # type: ignore[valid-type]
        replace_record(session, table, item_id, record, what=path)
        return record

    @router.delete("/{item_id}", status_code=204, summary=f"delete one of {path}")
    def remove(item_id: str, session: Session = Depends(db_session)) -> None:
        delete_record(session, table, item_id, what=path)

    @router.post(
        "/import", response_model=ImportResult, summary=f"import {path} from CSV or GeoJSON (create or replace by id)"
    )
    async def import_file(file: UploadFile = File(...), session: Session = Depends(db_session)) -> ImportResult:
        records, rejected = parse_upload(filename=file.filename or "upload", content=await file.read(), schema=schema)
        store_records(session, table, records)
        result = ImportResult(imported=len(records), rejected=[r.__dict__ for r in rejected])
        if rejected and not records:  # nothing usable: the rejections, each naming its row and field
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
