"""CRUD and CSV/GeoJSON import of the dispatcher's catalogue: sites, vehicles, vehicle types, depots, facilities.

Records are validated by ``routing.planning.scenario`` itself, so what the API accepts is exactly what
the planner can solve.
"""

from fastapi import APIRouter, Depends, File, HTTPException, Path, Query, UploadFile
from pydantic import BaseModel, Field
from sqlmodel import Session, SQLModel, select

from api import auth
from api.deps import app_settings, db_session
from api.services.imports import parse_upload
from api.services.records import create_record, delete_record, get_record, page, replace_record, store_records
from api.settings import Settings
from api.tables import DepotRow, FacilityRow, SiteRow, VehicleRow, VehicleTypeRow
from routing.planning import scenario as model


class VehicleIn(model.Vehicle):
    """A truck; ``terminal`` links it to its JT/T 808 GPS terminal (phone) for track playback."""

    terminal: str | None = Field(
        None,
        min_length=1,
        max_length=20,
        pattern=r"^[0-9A-Za-z_-]+$",
        description="its GPS terminal: JT/T 808 phone or device id",
    )


class RejectedRow(BaseModel):
    where: str = Field(description="file:line N (CSV) or file:features[N] (GeoJSON)")
    field: str
    error: str


class ImportResult(BaseModel):
    imported: int = Field(description="records created or replaced")
    rejected_count: int = Field(description="bad rows, all of them")
    rejected: list[RejectedRow] = Field(description="the first bad rows (QINGYUN_IMPORT_REJECTIONS_LISTED)")


class Page(BaseModel):
    total: int
    items: list[dict]


def _record(row: SQLModel) -> dict:
    """A stored record as its model reads it: unset (NULL) columns left out, so they take the model's default."""
    return {k: v for k, v in row.model_dump().items() if v is not None}


def ItemId() -> object:  # noqa: N802 - a Path factory
    """A record id in the path, as the records' own ids are written (``routing.planning.scenario.ID_PATTERN``)."""
    return Path(min_length=1, max_length=model.ID_MAX, pattern=model.ID_PATTERN)


def _catalogue(path: str, *, table: type[SQLModel], schema: type[BaseModel], label: str) -> APIRouter:
    router = APIRouter(prefix=f"/{path}", tags=[label], dependencies=[auth.dispatcher])

    @router.get("", response_model=Page, summary=f"list {path}")
    def list_items(
        session: Session = Depends(db_session),
        limit: int = Query(100, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=10**9),
    ) -> Page:
        total, rows = page(session, select(table), order_by=(table.id,), limit=limit, offset=offset)
        return Page(total=total, items=[_record(r) for r in rows])

    @router.post("", status_code=201, response_model=schema, summary=f"create one of {path}")
    def create(record: schema, session: Session = Depends(db_session)):  # type: ignore[valid-type]
        create_record(session, table, record, what=path)
        return record

    @router.get("/{item_id}", response_model=schema, summary=f"one of {path}")
    def read(item_id: str = ItemId(), session: Session = Depends(db_session)):
        return _record(get_record(session, table, item_id, what=path))

    @router.put("/{item_id}", response_model=schema, summary=f"create or replace one of {path}")
    def replace(record: schema, item_id: str = ItemId(), session: Session = Depends(db_session)):  # type: ignore[valid-type]
        replace_record(session, table, item_id, record, what=path)
        return record

    @router.delete("/{item_id}", status_code=204, summary=f"delete one of {path}")
    def remove(item_id: str = ItemId(), session: Session = Depends(db_session)) -> None:
        delete_record(session, table, item_id, what=path)

    @router.post(
        "/import", response_model=ImportResult, summary=f"import {path} from CSV or GeoJSON (create or replace by id)"
    )
    def import_file(
        file: UploadFile = File(...),
        session: Session = Depends(db_session),
        settings: Settings = Depends(app_settings),
    ) -> ImportResult:
        # a plain def: FastAPI runs it in a worker thread, so parsing a large file never blocks the event loop
        records, rejected = parse_upload(
            filename=file.filename or "upload",
            content=file.file.read(),
            schema=schema,
            max_rows=settings.service.import_max_rows,
        )
        store_records(session, table, records)
        listed = [RejectedRow(**r.__dict__) for r in rejected[: settings.service.import_rejections_listed]]
        result = ImportResult(imported=len(records), rejected_count=len(rejected), rejected=listed)
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
