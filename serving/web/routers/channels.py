"""Marketing's pages: the channel review (period, moment and target pickers, its tables and
plots), each table as a CSV download, and the leads of one channel."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from features.i18n import N_
from serving.web.choices import check_choice
from serving.web.deps import LeadViewer, PageServices, PageStore, ReportViewer
from serving.web.errors import PageError, bad_value
from serving.web.reads import channel_leads
from serving.web.reviews import (
    MOMENTS,
    TABLES,
    ReviewAsk,
    channel_drivers,
    make_review,
    plots,
    table_csv,
    table_view,
    targets,
)
from serving.web.templating import render
from serving.web.words import page_locale, page_words
from training.channels.cells import SUMMARY_COLUMNS

if TYPE_CHECKING:
    from training.channels.report import ChannelReport

router = APIRouter(prefix="/app/channels", include_in_schema=False)

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
#: The most leads the channel's leads page lists.
CHANNEL_PAGE_SIZE = 200


def _month(value: str | None, name: str) -> str | None:
    if not value:
        return None
    if not _MONTH.match(value):
        message = N_("{name}: expected a month YYYY-MM, got '{value}'.")
        raise bad_value(N_("Bad period"), message, name, value, 20)
    return value


async def review_ask(
    services: PageServices,
    start: Annotated[str | None, Query(max_length=7)] = None,
    end: Annotated[str | None, Query(max_length=7)] = None,
    stage: Annotated[str | None, Query(max_length=20)] = None,
    target: Annotated[str | None, Query(max_length=20)] = None,
) -> ReviewAsk:
    """The pickers' choices; a bad one gets a 422 page naming it."""
    check_choice(stage, MOMENTS, N_("Bad choice"), N_("stage: expected one of {choices}."))
    allowed = targets(services.settings.score_target)
    check_choice(target, allowed, N_("Bad choice"), N_("target: expected one of {choices}."))
    first, last = _month(start, "start"), _month(end, "end")
    if first and last and last < first:
        raise PageError(422, N_("Bad period"), N_("end: the last month is before the first."))
    return ReviewAsk(first, last, stage or None, target or None)


Ask = Annotated[ReviewAsk, Depends(review_ask)]


def _report(
    services: PageServices, store: PageStore, ask: ReviewAsk, locale: str = "en"
) -> ChannelReport | None:
    """The review (its phrases in ``locale``), or None when no lead arrived in the period."""
    from training.channels.leads import NoLeadsError, ReportError

    assert services.models is not None
    try:
        return make_review(services, store, services.models.current, ask, locale)
    except NoLeadsError:
        return None
    except ReportError as error:
        raise PageError(422, N_("Cannot review"), str(error)) from error


@router.get("")
def review_page(
    request: Request, session: ReportViewer, services: PageServices, store: PageStore, ask: Ask
) -> Response:
    locale = page_locale(request)
    report = _report(services, store, ask, locale)
    translate = page_words(request)
    context: dict[str, object] = {
        "title": translate.gettext(N_("Channels")),
        "ask": ask,
        "moments": MOMENTS,
        "targets": targets(services.settings.score_target),
        "report": report,
        "table_names": TABLES,
    }
    if report is not None:
        overall = report.global_drivers
        context |= {
            "summary": table_view(
                "summary", report.summary, SUMMARY_COLUMNS, locale=locale, money=report.money
            ),
            "channel_drivers": channel_drivers(report, locale=locale),
            "global_drivers": table_view("global_drivers", overall.head(10), locale=locale),
            "more_drivers": table_view("more_drivers", overall.iloc[10:], locale=locale),
            "plots": plots(report, translate),
        }
        for name in ("funnel_channel", "funnel_campaign", "funnel_month", "sla_channel", "sla_sdr"):
            context[name] = table_view(
                name, report.tables()[name], locale=locale, money=report.money
            )
    return render(request, "channels.html", context)


@router.get("/leads")
def leads_page(
    request: Request,
    session: LeadViewer,
    store: PageStore,
    channel: Annotated[str, Query(min_length=1, max_length=200)],
) -> Response:
    leads, total = channel_leads(store, channel, CHANNEL_PAGE_SIZE)
    title = page_words(request).gettext(N_("Leads of {channel}")).format(channel=channel)
    context = {"title": title, "channel": channel, "leads": leads, "total": total}
    return render(request, "channel_leads.html", context)


@router.get("/{table}.csv")
def table_download(
    table: str, session: ReportViewer, services: PageServices, store: PageStore, ask: Ask
) -> Response:
    if table not in TABLES:
        raise PageError(404, N_("Not found"), N_("There is no table '{table}'."), table=table[:40])
    report = _report(services, store, ask)
    if report is None:
        raise PageError(404, N_("No leads"), N_("No lead arrived in this period."))
    filename = f"{table}-{report.period.slug}.csv"
    return Response(
        table_csv(report, table),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
