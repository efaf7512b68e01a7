"""The sales view: qualified leads routed to sales, highest score first, with filters
(channel, tier, status), and a funnel move on every row (the moves the lead page allows;
``won`` with its deal value) through the API's ``change_status``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from features.i18n import N_
from serving.api.auth import Permission
from serving.web.choices import check_choice
from serving.web.deps import LeadViewer, MovingStatus, PageServices, PageStore
from serving.web.moving import CURRENCIES, move_from_form
from serving.web.reads import sales_channels, sales_leads
from serving.web.routers.queue import TIERS
from serving.web.templating import render
from serving.web.views import OPEN, SalesFilter, moves, status_choices
from serving.web.words import page_words

router = APIRouter(prefix="/app/sales", include_in_schema=False)

#: The most leads the sales view lists.
SALES_PAGE_SIZE = 200


async def sales_filter(
    status: Annotated[str | None, Query(max_length=40)] = None,
    channel: Annotated[str | None, Query(max_length=200)] = None,
    tier: Annotated[str | None, Query(max_length=2)] = None,
) -> SalesFilter:
    """The filters of the query string; a bad one gets a 422 page naming it."""
    choices = [value for value, _label in status_choices()]
    check_choice(status, choices, N_("Bad filter"), N_("status: expected one of {choices}."))
    check_choice(tier, TIERS, N_("Bad filter"), N_("tier: expected one of {choices}."))
    return SalesFilter(status or OPEN, channel or None, tier or None)


Filters = Annotated[SalesFilter, Depends(sales_filter)]


def _page(
    request: Request,
    store: PageStore,
    filters: SalesFilter,
    *,
    may_move: bool,
    moved: int | None = None,
    problem: tuple[int, str] | None = None,
) -> Response:
    leads, matching = sales_leads(store, filters, SALES_PAGE_SIZE)
    translate = page_words(request)
    rows = [(lead, moves(lead.status, lead.route, translate) if may_move else []) for lead in leads]
    context = {
        "title": translate.gettext(N_("Sales")),
        "rows": rows,
        "matching": matching,
        "filters": filters,
        "channels": sales_channels(store),
        "tiers": TIERS,
        "statuses": status_choices(translate),
        "currencies": CURRENCIES,
        "moved": moved,
        "problem": problem,
    }
    return render(request, "sales.html", context, 422 if problem else 200)


@router.get("")
def sales_page(
    request: Request,
    session: LeadViewer,
    store: PageStore,
    filters: Filters,
    moved: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    return _page(
        request, store, filters, may_move=session.may(Permission.CHANGE_STATUS), moved=moved
    )


@router.post("/{lead_id}/status")
async def post_move(
    request: Request,
    lead_id: str,
    session: MovingStatus,
    services: PageServices,
    store: PageStore,
    filters: Filters,
) -> Response:
    """The row's move; back to the same filtered view, or the view with the row's problem."""
    number, problem = await move_from_form(request, services, store, lead_id, session.caller)
    if problem is not None:
        return _page(request, store, filters, may_move=True, problem=(number, problem))
    query = "&".join(part for part in (filters.query, f"moved={number}") if part)
    return RedirectResponse(f"/app/sales?{query}#lead-{number}", status_code=303)
