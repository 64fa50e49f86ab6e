"""The map page: the board's alerts (same filters) on the mission's sectors."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.ingest.alerts import queries
from services.ingest.board.filters import BadFilter, BoardFilter
from services.ingest.board.geo_map import frame
from services.ingest.board.pages import render
from services.ingest.board.session import Reader
from shared.envelope import utc_now
from shared.geography import Position

router = APIRouter(include_in_schema=False)
MAP_SIZE = 200


@router.get("/map", response_class=HTMLResponse)
async def map_page(request: Request, visitor: Reader) -> HTMLResponse:
    """The alerts the reader may see, with a position, on the sectors' outlines."""
    directory = visitor.context.directory
    try:
        wanted = BoardFilter.from_query(request.query_params, directory)
    except BadFilter as error:
        return render(request, "error.html", visitor, status_code=400, problem=str(error))
    async with visitor.context.sessions() as session:
        page = await queries.list_alerts(
            session, visitor.person, wanted.query(visitor.person.id, utc_now()), MAP_SIZE, None
        )
    placed = [a for a in page.items if a.location.lat is not None and a.location.lon is not None]
    areas = directory.sector_areas
    positions: list[Position] = [
        (float(a.location.lon), float(a.location.lat))  # type: ignore[arg-type]
        for a in placed
    ]
    positions += [p for area in areas.values() for ring in area.rings() for p in ring]
    view = frame(positions)
    return render(
        request,
        "map.html",
        visitor,
        view=view,
        areas=areas,
        placed=placed,
        unplaced=[a for a in page.items if a not in placed],
        tiles=view.tiles(request.app.state.board_map_tiles)
        if view and request.app.state.board_map_tiles
        else [],
        wanted=wanted,
    )
