"""The SDR queue page: the list in ``GET /queue`` order (by probability or by expected
value, ``order=``; the installation's ``queue_order`` by default), its filters, the list
fragment htmx refreshes, "Claim next", "Claim" (a lead picked from the list) and "Release"."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from features.i18n import N_
from serving.api.auth import Permission
from serving.api.errors import ApiError
from serving.api.workflows import claim, claim_next, queue_view, release
from serving.queue import QueueOrder
from serving.web.deps import Claiming, PageServices, PageStore, QueueViewer
from serving.web.errors import PageError, bad_value, lead_number, refusals_as_pages
from serving.web.outlooks import expected_value_text
from serving.web.reads import queue_extras
from serving.web.routers.signin import safe_next
from serving.web.state import pages_of
from serving.web.templating import render
from serving.web.views import only_breached, queue_rows, sla_words
from serving.web.words import page_locale, page_words

router = APIRouter(prefix="/app/queue", include_in_schema=False)

TIERS = ("A", "B", "C", "D")
#: The orders the page offers, as its switch names them.
ORDER_WORDS: dict[QueueOrder, str] = {
    QueueOrder.PROBABILITY: N_("by probability"),
    QueueOrder.EXPECTED_VALUE: N_("by expected value"),
}
#: The most leads the page asks the queue view for before its own filters.
RANKED_LIMIT = 1000


@dataclass(frozen=True)
class QueueFilters:
    channel: str | None
    tier: str | None
    unclaimed: bool
    breached: bool
    #: None: the installation's ``queue_order``
    order: QueueOrder | None = None

    @property
    def query(self) -> str:
        pairs = {
            "channel": self.channel or "",
            "tier": self.tier or "",
            "unclaimed": "1" if self.unclaimed else "",
            "breached": "1" if self.breached else "",
            "order": self.order.value if self.order else "",
        }
        return urlencode({key: value for key, value in pairs.items() if value})

    def ordered(self, order: QueueOrder) -> QueueFilters:
        """The same filters in ``order``."""
        return replace(self, order=order)


def _flag(value: str | None, name: str) -> bool:
    if value in (None, "", "0", "false", "off"):
        return False
    if value in ("1", "true", "on", "yes"):
        return True
    raise bad_value(
        N_("Bad filter"), N_("{name}: expected 1 or 0, got '{value}'."), name, value, 40
    )


async def queue_filters(
    channel: Annotated[str | None, Query()] = None,
    tier: Annotated[str | None, Query()] = None,
    unclaimed: Annotated[str | None, Query()] = None,
    breached: Annotated[str | None, Query()] = None,
    order: Annotated[str | None, Query()] = None,
) -> QueueFilters:
    """The filters of the query string; a bad one gets a 422 page naming it."""
    if channel is not None and len(channel) > 200:
        raise PageError(422, N_("Bad filter"), N_("channel: expected at most 200 characters."))
    if tier and tier not in TIERS:
        raise PageError(
            422, N_("Bad filter"), N_("tier: expected one of {choices}."), choices=", ".join(TIERS)
        )
    return QueueFilters(
        channel or None,
        tier or None,
        _flag(unclaimed, "unclaimed"),
        _flag(breached, "breached"),
        _order(order),
    )


def _order(order: str | None) -> QueueOrder | None:
    """The order asked for (None: the installation's); a bad one gets a 422 page naming it."""
    if not order:
        return None
    if order not in set(QueueOrder):
        choices = ", ".join(QueueOrder)
        raise PageError(
            422, N_("Bad filter"), N_("order: expected one of {choices}."), choices=choices
        )
    return QueueOrder(order)


Filters = Annotated[QueueFilters, Depends(queue_filters)]


def _list_context(
    request: Request, services: PageServices, store: PageStore, filters: QueueFilters
) -> dict[str, object]:
    settings = services.settings
    order = filters.order or QueueOrder(settings.queue_order)
    view = queue_view(
        services, store, filters.channel, filters.tier, filters.unclaimed, RANKED_LIMIT, order
    )
    items = only_breached(view.items, filters.breached)
    translate = page_words(request)
    shown = items[: pages_of(request).settings.queue_page_size]
    extras = queue_extras(store, [item.lead_id for item in shown], services.scorer.queue_target)
    locale = page_locale(request)
    return {
        "rows": queue_rows(shown, extras, settings.sla_minutes, translate),
        "order": order.value,
        "orders": [
            (choice.value, translate.gettext(words), filters.ordered(choice).query)
            for choice, words in ORDER_WORDS.items()
        ],
        "expected_values": {
            item.lead_id: expected_value_text(item.outlook, settings, locale)
            for item in shown
            if order is QueueOrder.EXPECTED_VALUE
        },
        "matching": len(items),
        "total": view.total,
        "breached_count": view.breached,
        "generated_at": view.generated_at,
        "filters": filters,
        "refresh_seconds": pages_of(request).settings.queue_refresh_seconds,
        "may_claim": _may_claim(request),
        "sla_minutes": settings.sla_minutes,
        "sla_words": sla_words(translate),
    }


def _may_claim(request: Request) -> bool:
    session = getattr(request.state, "web_session", None)
    return bool(session and session.may(Permission.CLAIM))


@router.get("")
def queue_page(
    request: Request,
    session: QueueViewer,
    services: PageServices,
    store: PageStore,
    filters: Filters,
    notice: str | None = None,
) -> Response:
    channels = sorted({entry.channel for entry in store.queue_entries()})
    context = _list_context(request, services, store, filters)
    translate = page_words(request)
    notices = {"empty": translate.gettext(N_("Nothing to claim: no unclaimed lead is waiting."))}
    title = translate.gettext(N_("Queue"))
    context |= {"title": title, "channels": channels, "notice": notices.get(notice or "")}
    return render(request, "queue.html", context)


@router.get("/list")
def queue_list(
    request: Request,
    session: QueueViewer,
    services: PageServices,
    store: PageStore,
    filters: Filters,
) -> Response:
    """The list alone, for htmx's refresh."""
    return render(request, "_queue_list.html", _list_context(request, services, store, filters))


@router.post("/claim-next")
def post_claim_next(
    session: Claiming,
    services: PageServices,
    store: PageStore,
    order: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Take the top unclaimed lead in the order the page shows (its hidden ``order``)."""
    chosen = _order(order)
    try:
        row, _item = claim_next(services, store, session.caller, chosen)
    except ApiError as error:
        if error.status_code != 404:
            raise PageError(error.status_code, N_("Could not claim"), error.detail) from error
        return RedirectResponse("/app/queue?notice=empty", status_code=303)
    return RedirectResponse(f"/app/leads/{row.id}", status_code=303)


@router.post("/{lead_id}/claim")
def post_claim(
    lead_id: str, session: Claiming, services: PageServices, store: PageStore
) -> Response:
    """Take the lead picked from the list and open its page; a refusal (another SDR was
    quicker) is a page saying who holds it."""
    with refusals_as_pages():
        row, _item = claim(services, store, lead_number(lead_id), session.caller)
    return RedirectResponse(f"/app/leads/{row.id}", status_code=303)


@router.post("/{lead_id}/release")
def post_release(
    lead_id: str,
    session: Claiming,
    services: PageServices,
    store: PageStore,
    back_to: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    with refusals_as_pages():
        release(store, services, lead_number(lead_id), session.caller)
    return RedirectResponse(safe_next(back_to) or "/app/queue", status_code=303)
