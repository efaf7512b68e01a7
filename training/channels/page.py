"""The channel review as files: one self-contained HTML page (the figures embedded as PNG
data URIs, no external assets) and a CSV file per table, optionally logged as artifacts of
the model's MLflow run.

The page is in a language (``locale``, by default the report's own, English unless it was
built in another): headings, notes, column headers, verdicts and figures; the numbers and
the CSV files (column names, machine values) are the same in every language.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from features.i18n import N_, Translator
from training.channels.cells import SUMMARY_COLUMNS, cell_text
from training.channels.funnel import ALL_LEADS, outcome_words
from training.channels.money import DealMoney
from training.channels.plots import (
    calibration_plot,
    driver_bars,
    drivers_heatmap,
    figure_uri,
    funnel_plot,
    trend_plot,
)
from training.channels.report import ChannelReport
from training.channels.words import column_label, report_words, title_text, verdict_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

HTML_NAME = "channel_report.html"
_SUMMARY_COLUMNS = [*SUMMARY_COLUMNS, "top_drivers"]
_CAMPAIGN_DRIVER_COLUMNS = [
    "channel",
    "campaign",
    "explained",
    "rank",
    "field",
    "phrase",
    "spread",
    "global_rank",
]
_DRIVERS_NOTE = N_(
    "SHAP contributions of the model on each channel's own leads. A driver's strength is "
    "how much its contribution varies between the channel's leads; the phrase says which "
    "values raise or lower the chance (relative to the channel's average lead)."
)
_SLA_NOTE = N_(
    "In time: first claimed or moved before the SLA deadline. The met rate counts leads "
    "still waiting past their deadline as missed."
)
_CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1200px;padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em}h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.85em}
th,td{border:1px solid #ddd;padding:.3em .5em;text-align:right;vertical-align:top}
th{background:#f4f4f4}td.text,th.text{text-align:left}
tr.few td{color:#888}tr.total td{font-weight:600}
.meta td{text-align:left}.note{color:#555}.phrases li{margin:.15em 0}
img{max-width:100%;height:auto;margin:.5em 0}details{margin:1em 0}
.verdict{color:#a15c00;font-style:italic}
"""


@dataclass(frozen=True)
class ReportFiles:
    """Where a report was written: its folder, the HTML page, each table's CSV file."""

    folder: Path
    html: Path
    csvs: dict[str, Path]


def _cell(column: str, value: object, locale: str, money: DealMoney | None) -> str:
    return html.escape(cell_text(column, value, locale, money))


def _note(said: Translator, message: str) -> str:
    return f"<p class='note'>{html.escape(said.gettext(message))}</p>"


def _heading(said: Translator, level: int, message: str) -> str:
    return f"<h{level}>{html.escape(said.gettext(message))}</h{level}>"


def table_html(
    table: pd.DataFrame,
    columns: list[str] | None = None,
    locale: str = "en",
    money: DealMoney | None = None,
) -> str:
    """A table with rates as percentages and money as ``money`` writes it; too-few rows
    greyed, the all-leads row bold; the headers are the columns' labels in ``locale`` (the
    column name as its ``title``)."""
    if table.empty:
        return _note(report_words(locale), N_("(no rows)"))
    shown = [c for c in (columns or list(table.columns)) if c in table.columns]
    text_columns = {c for c in shown if table[c].dtype.kind not in "fiub"}
    head = "".join(
        f"<th class='{'text' if c in text_columns else ''}' title='{html.escape(c)}'>"
        f"{html.escape(column_label(c, locale))}</th>"
        for c in shown
    )
    rows = []
    for record in table[shown].to_dict(orient="records"):
        verdict = str(record.get("verdict", "ok"))
        css = "few" if verdict not in ("ok", "") else ""
        if record.get("channel") == ALL_LEADS:
            css = "total"
        cells = "".join(
            f"<td class='{'text' if c in text_columns else ''}'>"
            f"{_cell(c, record[c], locale, money)}</td>"
            for c in shown
        )
        rows.append(f"<tr class='{css}'>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _image(fig: Figure | None, said: Translator, alt: str) -> str:
    uri = figure_uri(fig)
    return "" if uri is None else f"<img src='{uri}' alt='{html.escape(said.gettext(alt))}'>"


def _model_text(report: ChannelReport, said: Translator) -> str:
    model = report.model
    if model is None:
        return said.gettext(N_("none"))
    text = said.gettext(N_("{name} version {version} ({kind}, scored at {known_at})"))
    return text.format(
        name=model.name, version=model.version, kind=model.kind, known_at=model.known_at
    )


def _meta(report: ChannelReport, locale: str) -> str:
    said = report_words(locale)
    limits = report.thresholds
    too_few = said.gettext(N_("{leads} leads or {conversions} conversions"))
    explained = said.gettext(N_("up to {count} per channel / campaign"))
    rows = [
        (N_("source"), report.source or "—"),
        (N_("period"), report.period.label),
        (N_("outcome judged"), f"{report.target} ({outcome_words(report.target, locale)})"),
        (N_("model"), _model_text(report, said)),
        (
            N_("too few leads to judge below"),
            too_few.format(leads=limits.min_leads, conversions=limits.min_conversions),
        ),
        (N_("leads explained (SHAP)"), explained.format(count=report.explained_per_group)),
        (N_("generated"), report.generated_at.strftime("%Y-%m-%d %H:%M UTC")),
    ]
    body = "".join(
        f"<tr><th class='text'>{html.escape(said.gettext(k))}</th><td>{html.escape(v)}</td></tr>"
        for k, v in rows
    )
    return f"<table class='meta'>{body}</table>"


def _channel_notes(row: pd.Series, said: Translator) -> str:
    extra = []
    if row.get("specific_to_channel"):
        stronger = said.gettext(N_("Stronger here than over all leads: {fields}."))
        extra.append(stronger.format(fields=row["specific_to_channel"]))
    if row.get("matters_less_here"):
        less = said.gettext(N_("Global top drivers that matter less here: {fields}."))
        extra.append(less.format(fields=row["matters_less_here"]))
    return "".join(f"<p class='note'>{html.escape(text)}</p>" for text in extra)


def _channel_section(report: ChannelReport, row: pd.Series, locale: str) -> str:
    said = report_words(locale)
    channel = str(row["channel"])
    title = f"<h3>{html.escape(channel)}</h3>"
    if row["verdict"] != "ok":
        verdict = verdict_text(str(row["verdict"]), locale)
        return title + f"<p class='verdict'>{html.escape(verdict)}</p>"
    drivers = report.drivers
    mine = drivers.head(0) if drivers.empty else drivers[drivers["channel"] == channel].head(3)
    ranks = said.gettext(N_("#{rank} here, #{global_rank} over all leads"))
    items = "".join(
        f"<li><b>{html.escape(str(d.field))}</b> "
        f"({html.escape(ranks.format(rank=d.rank, global_rank=d.global_rank))}): "
        f"{html.escape(str(d.phrase))}</li>"
        for d in mine.itertuples()
    )
    return title + f"<ul class='phrases'>{items}</ul>" + _channel_notes(row, said)


def _drivers_part(report: ChannelReport, locale: str) -> list[str]:
    """What drives conversion: the figures, then a section per channel."""
    said = report_words(locale)
    parts = [
        _heading(said, 2, N_("What drives conversion in each channel")),
        _note(said, _DRIVERS_NOTE),
        _image(drivers_heatmap(report, locale), said, N_("driver heat map")),
        _image(driver_bars(report, locale=locale), said, N_("top drivers per channel")),
    ]
    for _, row in report.summary.iterrows():
        if row["channel"] != ALL_LEADS:
            parts.append(_channel_section(report, row, locale))
    return parts


def _funnel_part(report: ChannelReport, locale: str) -> list[str]:
    """The global drivers, the funnels per channel and campaign, the trend by month."""
    said = report_words(locale)
    parts = [
        _heading(said, 2, N_("Drivers over all leads")),
        table_html(report.global_drivers, locale=locale),
        _heading(said, 2, N_("Funnel per channel")),
        table_html(report.funnel_channel, locale=locale, money=report.money),
        _image(funnel_plot(report, locale), said, N_("funnel")),
        _image(calibration_plot(report, locale), said, N_("calibration")),
        _heading(said, 2, N_("Funnel per campaign")),
        table_html(report.funnel_campaign, locale=locale, money=report.money),
    ]
    if not report.campaign_drivers.empty:
        top = report.campaign_drivers[report.campaign_drivers["rank"] <= 3]
        parts += [
            _heading(said, 3, N_("Top drivers per campaign")),
            table_html(top, _CAMPAIGN_DRIVER_COLUMNS, locale),
        ]
    month_summary = html.escape(said.gettext(N_("Funnel per channel and month")))
    return [
        *parts,
        _heading(said, 2, N_("Trend by month")),
        _image(trend_plot(report, locale), said, N_("trend")),
        f"<details><summary>{month_summary}</summary>",
        table_html(report.funnel_month, locale=locale, money=report.money),
        "</details>",
        *_sla_part(report, locale),
    ]


def _sla_part(report: ChannelReport, locale: str) -> list[str]:
    """First response against the SLA, when the leads carry it (the lead store's do)."""
    if report.sla_channel.empty:
        return []
    said = report_words(locale)
    return [
        _heading(said, 2, N_("First response and the SLA")),
        _note(said, _SLA_NOTE),
        table_html(report.sla_channel, locale=locale),
        _heading(said, 3, N_("Per SDR (who answered first)")),
        table_html(report.sla_sdr, locale=locale),
    ]


def render_html(report: ChannelReport, csv_links: bool = True, locale: str | None = None) -> str:
    """The whole report as one self-contained HTML page in ``locale`` (default: the
    report's own language, English unless it was built in another)."""
    chosen = report_words(locale or report.locale).locale
    said = report_words(chosen)
    title = html.escape(title_text(report.title, chosen))
    parts = [
        f"<!DOCTYPE html><html lang='{chosen}'><head><meta charset='utf-8'>",
        f"<title>{title}</title><style>{_CSS}</style></head><body>",
        f"<h1>{title}</h1>",
        _meta(report, chosen),
        "".join(f"<p class='note'>{html.escape(n)}</p>" for n in report.notes),
        _heading(said, 2, N_("Summary")),
        table_html(report.summary, _SUMMARY_COLUMNS, chosen),
        *_drivers_part(report, chosen),
        *_funnel_part(report, chosen),
    ]
    if csv_links:
        links = " ".join(f"<a href='{name}.csv'>{name}.csv</a>" for name in report.tables())
        every = html.escape(said.gettext(N_("Every table as CSV:")))
        parts.append(f"{_heading(said, 2, N_('Data'))}<p>{every} {links}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(report: ChannelReport, folder: Path, locale: str | None = None) -> ReportFiles:
    """Write the HTML page (in ``locale``, default the report's) and one CSV per table
    into ``folder`` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    csvs: dict[str, Path] = {}
    for name, table in report.tables().items():
        path = folder / f"{name}.csv"
        table.to_csv(path, index=False)
        csvs[name] = path
    page = folder / HTML_NAME
    page.write_text(render_html(report, locale=locale), encoding="utf-8")
    return ReportFiles(folder=folder, html=page, csvs=csvs)


def log_report(tracking_uri: str, run_id: str, folder: Path, artifact_path: str) -> str:
    """Log the report's files as artifacts of the MLflow run; returns the artifact URI."""
    from training.registry import mlflow_client

    client = mlflow_client(tracking_uri)
    client.log_artifacts(run_id, str(folder), artifact_path=artifact_path)
    run = client.get_run(run_id)
    return f"{run.info.artifact_uri}/{artifact_path}"
