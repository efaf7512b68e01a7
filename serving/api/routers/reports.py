"""Marketing's reports: the channel review as JSON tables or as an HTML page.

The page is self-contained (inline ``<style>``, plots as ``data:`` images, no scripts), so
it carries its own Content-Security-Policy (:func:`page_csp`): its own style blocks by
hash, ``data:`` images, nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import replace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from serving.api.deps import Language, ModelsDep, ReportReader, ServicesDep, StoreDep
from serving.api.errors import ApiError, invalid
from serving.api.inputs import CheckedRoute
from serving.reports import review_options, service_report
from training.channels.leads import NoLeadsError, Period, ReportError
from training.channels.report import ChannelReport

router = APIRouter(prefix="/reports", tags=["reports"], route_class=CheckedRoute)

PeriodQuery = Annotated[
    str | None,
    Query(
        max_length=20,
        description="YYYY-MM or YYYY-MM..YYYY-MM (months of arrival, UTC); default: every lead",
        examples=["2026-10", "2026-07..2026-09"],
    ),
]
KnownAtQuery = Annotated[
    Literal["arrival", "qualified"] | None,
    Query(
        alias="stage",
        description="the model explained (the moment it scores at); default: qualified if in "
        "service, else arrival",
    ),
]
MinLeads = Annotated[int | None, Query(ge=1, description="override LEADSCORE_REPORT_MIN_LEADS")]
MinConversions = Annotated[
    int | None, Query(ge=0, description="override LEADSCORE_REPORT_MIN_CONVERSIONS")
]


class ChannelReportOut(BaseModel):
    """Every table of the channel review as records (the CSV files of the CLI report)."""

    title: str
    source: str
    period: dict[str, str | None]
    target: str
    outcome: str
    thresholds: dict[str, int]
    model: dict[str, str] | None
    explained_per_group: int
    generated_at: str
    notes: list[str]
    tables: dict[str, list[dict[str, Any]]] = Field(
        description="summary, global_drivers, drivers, campaign_drivers, funnel_channel, "
        "funnel_campaign, funnel_month"
    )


def channel_report(
    caller: ReportReader,
    services: ServicesDep,
    store: StoreDep,
    models: ModelsDep,
    language: Language,
    period: PeriodQuery = None,
    known_at: KnownAtQuery = None,
    min_leads: MinLeads = None,
    min_conversions: MinConversions = None,
) -> ChannelReport:
    """The report the query asks for (once the caller may read reports), its words (notes,
    the page's headings) in the caller's language."""
    try:
        chosen = Period.parse(period)
    except ReportError as error:
        raise invalid("period", str(error), period, location="query") from error
    settings = services.settings
    options = review_options(settings, chosen, min_leads=min_leads, min_conversions=min_conversions)
    options = replace(options, locale=language)
    try:
        return service_report(settings, store, models, options, known_at)
    except NoLeadsError as error:
        raise ApiError(404, str(error)) from error
    except ReportError as error:
        raise ApiError(422, str(error)) from error


ReportDep = Annotated[ChannelReport, Depends(channel_report)]


@router.get("/channels", summary="Channel review: drivers and funnel per channel (JSON)")
def get_channel_report(report: ReportDep) -> ChannelReportOut:
    """Per channel and campaign: what drives conversion (the model's SHAP contributions on
    the channel's own leads, in plain words, against the global picture), the funnel,
    average deal value and mean predicted vs actual conversion; per month: the trend.
    Groups below the thresholds are reported as "too few leads to judge"."""
    return ChannelReportOut.model_validate(report.to_json())


@router.get(
    "/channels.html",
    response_class=HTMLResponse,
    summary="Channel review as a self-contained HTML page",
)
def get_channel_report_html(report: ReportDep, language: Language) -> HTMLResponse:
    """The same report as `GET /reports/channels`, with plots, as one HTML page in the
    caller's language (Accept-Language, else ``LEADSCORE_LOCALE``)."""
    from training.channels.page import render_html

    page = render_html(report, csv_links=False, locale=language)
    return HTMLResponse(page, headers={"Content-Security-Policy": page_csp(page)})


_STYLE_BLOCK = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL | re.IGNORECASE)


def page_csp(page: str) -> str:
    """A CSP allowing exactly what a self-contained page needs: its ``<style>`` blocks (by
    SHA-256), ``data:`` images; no scripts, frames, forms or other origins."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()}'"
        for css in _STYLE_BLOCK.findall(page)
    )
    styles = hashes or "'none'"
    return (
        f"default-src 'none'; style-src {styles}; "
        "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
