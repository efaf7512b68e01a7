"""The channel review as a page of the app: what is asked (period, moment, target), the
report's tables as rows of formatted cells and its plots as ``data:`` images, in the
page's language (column labels, verdicts and phrases from the training catalogs; the CSV
downloads keep the column names and English machine values).

The review is ``training.channels.review.channel_review`` on the store's leads and the model
in service (``serving.reports``); this module shapes it for the template (pure functions,
except :func:`make_review` and :func:`plots`, which compute). The page satisfies the
service's CSP: no inline style, images are ``data:`` URIs (``img-src 'self' data:``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import pandas as pd

from features.i18n import N_, Translator
from serving.api.deps import Services
from serving.api.texts import serving_words
from serving.modelset import KNOWN_ATS, TARGETS, ModelSet
from serving.reports import review_options, served_model, served_outlook, store_leads
from serving.store.leads import Store
from training.channels.cells import cell_text
from training.channels.funnel import ALL_LEADS
from training.channels.money import DealMoney
from training.channels.words import column_label, verdict_text

if TYPE_CHECKING:
    from training.channels.report import ChannelReport

#: The tables offered as CSV files, in the report's order.
TABLES = (
    "summary",
    "global_drivers",
    "drivers",
    "campaign_drivers",
    "funnel_channel",
    "funnel_campaign",
    "funnel_month",
    "sla_channel",
    "sla_sdr",
)


@dataclass(frozen=True)
class ReviewAsk:
    """What the page asks for: months of arrival, the model's moment, its target."""

    start: str | None = None  # YYYY-MM
    end: str | None = None  # YYYY-MM
    known_at: str | None = None
    target: str | None = None

    @property
    def period(self) -> str | None:
        """As ``Period.parse`` reads it: ``YYYY-MM``, ``YYYY-MM..YYYY-MM`` or None (all)."""
        if not self.start and not self.end:
            return None
        first, last = self.start or self.end, self.end or self.start
        return first if first == last else f"{first}..{last}"

    @property
    def query(self) -> str:
        pairs = {
            "start": self.start or "",
            "end": self.end or "",
            "stage": self.known_at or "",
            "target": self.target or "",
        }
        return urlencode({key: value for key, value in pairs.items() if value})


def cell(column: str, value: Any, locale: str = "en", money: DealMoney | None = None) -> str:
    """A table value as the page shows it: rates as percentages, money as the report's
    ``money`` writes it (its display currency), else rounded."""
    return cell_text(column, value, locale, money)


@dataclass(frozen=True)
class Cell:
    text: str
    numeric: bool
    channel: str | None = None  # set on a channel's name: the page links it to its leads


@dataclass(frozen=True)
class TableView:
    name: str
    columns: list[str]
    rows: list[list[Cell]]
    #: per row: "total" for the all-leads row, "few" for a group too small to judge
    kinds: list[str]
    #: the columns' headers in the page's language (the names stay the machine values)
    labels: list[str] = field(default_factory=list)


def table_view(
    name: str,
    table: pd.DataFrame,
    columns: Sequence[str] | None = None,
    hidden: Sequence[str] = ("verdict",),
    locale: str = "en",
    money: DealMoney | None = None,
) -> TableView:
    """The table's rows as formatted cells in ``locale`` (money as ``money`` writes it);
    ``hidden`` columns left out unless ``columns`` names them (a group's verdict still
    greys its row)."""
    wanted = columns or [c for c in table.columns if c not in hidden]
    shown = [c for c in wanted if c in table.columns]
    numeric = {c for c in shown if table[c].dtype.kind in "fiub"}
    rows, kinds = [], []
    for record in table.to_dict(orient="records"):
        channel = record.get("channel")
        row = [
            Cell(
                cell(column, record[column], locale, money),
                column in numeric,
                str(channel) if column == "channel" and channel != ALL_LEADS else None,
            )
            for column in shown
        ]
        rows.append(row)
        verdict = str(record.get("verdict") or "")
        kinds.append(
            "total" if channel == ALL_LEADS else "few" if verdict not in ("", "ok") else ""
        )
    return TableView(name, shown, rows, kinds, [column_label(c, locale) for c in shown])


@dataclass(frozen=True)
class ChannelDrivers:
    channel: str
    verdict: str
    phrases: list[tuple[str, str]]  # (field, phrase), strongest first


def channel_drivers(
    report: ChannelReport, top: int = 3, locale: str = "en"
) -> list[ChannelDrivers]:
    """Per channel of the summary: its top drivers in words, or why it is not judged (in
    ``locale``)."""
    found = []
    drivers = report.drivers
    for record in report.summary.to_dict(orient="records"):
        channel = str(record["channel"])
        if channel == ALL_LEADS:
            continue
        verdict = str(record.get("verdict") or "")
        mine = (
            []
            if drivers.empty or verdict not in ("", "ok")
            else [
                (str(d["field"]), str(d["phrase"]))
                for d in drivers[drivers["channel"] == channel]
                .sort_values("rank")
                .head(top)
                .to_dict(orient="records")
            ]
        )
        said = "" if verdict in ("", "ok") else verdict_text(verdict, locale)
        found.append(ChannelDrivers(channel, said, mine))
    return found


def targets(score_target: str) -> list[str]:
    """The targets a review can be asked for: the service's first, then the others."""
    return [score_target, *[t for t in TARGETS if t != score_target]]


#: The moments a review's model can score at.
MOMENTS = KNOWN_ATS


def make_review(
    services: Services, store: Store, models: ModelSet, ask: ReviewAsk, locale: str = "en"
) -> ChannelReport:
    """The channel review asked for, of the stored leads, with the model in service, its
    phrases and notes in ``locale``. Raises ``ReportError`` (a bad period) and
    ``NoLeadsError`` (no lead in it)."""
    from training.channels.leads import Period
    from training.channels.review import channel_review

    settings = services.settings
    period = Period.parse(ask.period)
    leads = store_leads(store, settings, period)
    options = review_options(settings, period)
    served = served_model(models, ask.target or settings.score_target, ask.known_at)
    outlook = served_outlook(models, served)
    return channel_review(leads, served, replace(options, locale=locale), outlook)


@dataclass(frozen=True)
class Plot:
    title: str
    uri: str


def plots(report: ChannelReport, translate: Translator | None = None) -> dict[str, Plot]:
    """The review's figures as PNG data URIs, by place on the page (those it has
    something to draw for), titled in ``translate``'s language."""
    from training.channels import plots as charts  # matplotlib, only when a page is drawn

    made = {
        "heatmap": (N_("Driver strength per channel"), charts.drivers_heatmap(report)),
        "bars": (N_("Top drivers per channel"), charts.driver_bars(report)),
        "funnel": (N_("Funnel per channel"), charts.funnel_plot(report)),
        "calibration": (N_("Predicted vs actual conversion"), charts.calibration_plot(report)),
        "trend": (N_("Trend by month"), charts.trend_plot(report)),
    }
    said = translate or serving_words(None)
    found = {}
    for place, (title, figure) in made.items():
        uri = charts.figure_uri(figure)
        if uri is not None:
            found[place] = Plot(said.gettext(title), uri)
    return found


def table_csv(report: ChannelReport, name: str) -> str:
    return report.tables()[name].to_csv(index=False)
