"""The channel review as files: one self-contained HTML page (the figures embedded as PNG
data URIs, no external assets) and a CSV file per table, optionally logged as artifacts of
the model's MLflow run.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from training.channels.cells import SUMMARY_COLUMNS, cell_text
from training.channels.funnel import ALL_LEADS, outcome_words
from training.channels.plots import (
    calibration_plot,
    driver_bars,
    drivers_heatmap,
    figure_uri,
    funnel_plot,
    trend_plot,
)
from training.channels.report import ChannelReport

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
_DRIVERS_NOTE = (
    "<p class='note'>SHAP contributions of the model on each channel's own leads. A "
    "driver's strength is how much its contribution varies between the channel's leads; "
    "the phrase says which values raise or lower the chance (relative to the channel's "
    "average lead).</p>"
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


def _cell(column: str, value: object) -> str:
    return html.escape(cell_text(column, value))


def table_html(table: pd.DataFrame, columns: list[str] | None = None) -> str:
    """A table with rates as percentages; too-few rows greyed, the all-leads row bold."""
    if table.empty:
        return "<p class='note'>(no rows)</p>"
    shown = [c for c in (columns or list(table.columns)) if c in table.columns]
    text_columns = {c for c in shown if table[c].dtype.kind not in "fiub"}
    head = "".join(
        f"<th class='{'text' if c in text_columns else ''}'>{html.escape(c)}</th>" for c in shown
    )
    rows = []
    for record in table[shown].to_dict(orient="records"):
        verdict = str(record.get("verdict", "ok"))
        css = "few" if verdict not in ("ok", "") else ""
        if record.get("channel") == ALL_LEADS:
            css = "total"
        cells = "".join(
            f"<td class='{'text' if c in text_columns else ''}'>{_cell(c, record[c])}</td>"
            for c in shown
        )
        rows.append(f"<tr class='{css}'>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _image(fig: Figure | None, alt: str) -> str:
    uri = figure_uri(fig)
    return "" if uri is None else f"<img src='{uri}' alt='{html.escape(alt)}'>"


def _meta(report: ChannelReport) -> str:
    model = report.model
    limits = report.thresholds
    rows = [
        ("source", report.source or "—"),
        ("period", report.period.label),
        ("outcome judged", f"{report.target} ({outcome_words(report.target)})"),
        (
            "model",
            "none"
            if model is None
            else f"{model.name} version {model.version} ({model.kind}, scored at {model.known_at})",
        ),
        (
            "too few leads to judge below",
            f"{limits.min_leads} leads or {limits.min_conversions} conversions",
        ),
        ("leads explained (SHAP)", f"up to {report.explained_per_group} per channel / campaign"),
        ("generated", report.generated_at.strftime("%Y-%m-%d %H:%M UTC")),
    ]
    body = "".join(
        f"<tr><th class='text'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows
    )
    return f"<table class='meta'>{body}</table>"


def _channel_section(report: ChannelReport, row: pd.Series) -> str:
    channel = str(row["channel"])
    title = f"<h3>{html.escape(channel)}</h3>"
    if row["verdict"] != "ok":
        return title + f"<p class='verdict'>{html.escape(str(row['verdict']))}</p>"
    drivers = report.drivers
    mine = drivers.head(0) if drivers.empty else drivers[drivers["channel"] == channel].head(3)
    items = "".join(
        f"<li><b>{html.escape(str(d.field))}</b> (#{d.rank} here, #{d.global_rank} over all "
        f"leads): {html.escape(str(d.phrase))}</li>"
        for d in mine.itertuples()
    )
    extra = []
    if row.get("specific_to_channel"):
        extra.append(f"Stronger here than over all leads: {row['specific_to_channel']}.")
    if row.get("matters_less_here"):
        extra.append(f"Global top drivers that matter less here: {row['matters_less_here']}.")
    notes = "".join(f"<p class='note'>{html.escape(text)}</p>" for text in extra)
    return title + f"<ul class='phrases'>{items}</ul>" + notes


def _drivers_part(report: ChannelReport) -> list[str]:
    """What drives conversion: the figures, then a section per channel."""
    parts = [
        "<h2>What drives conversion in each channel</h2>",
        _DRIVERS_NOTE,
        _image(drivers_heatmap(report), "driver heat map"),
        _image(driver_bars(report), "top drivers per channel"),
    ]
    for _, row in report.summary.iterrows():
        if row["channel"] != ALL_LEADS:
            parts.append(_channel_section(report, row))
    return parts


def _funnel_part(report: ChannelReport) -> list[str]:
    """The global drivers, the funnels per channel and campaign, the trend by month."""
    parts = [
        "<h2>Drivers over all leads</h2>",
        table_html(report.global_drivers),
        "<h2>Funnel per channel</h2>",
        table_html(report.funnel_channel),
        _image(funnel_plot(report), "funnel"),
        _image(calibration_plot(report), "calibration"),
        "<h2>Funnel per campaign</h2>",
        table_html(report.funnel_campaign),
    ]
    if not report.campaign_drivers.empty:
        top = report.campaign_drivers[report.campaign_drivers["rank"] <= 3]
        parts += ["<h3>Top drivers per campaign</h3>", table_html(top, _CAMPAIGN_DRIVER_COLUMNS)]
    return [
        *parts,
        "<h2>Trend by month</h2>",
        _image(trend_plot(report), "trend"),
        "<details><summary>Funnel per channel and month</summary>",
        table_html(report.funnel_month),
        "</details>",
        *_sla_part(report),
    ]


def _sla_part(report: ChannelReport) -> list[str]:
    """First response against the SLA, when the leads carry it (the lead store's do)."""
    if report.sla_channel.empty:
        return []
    return [
        "<h2>First response and the SLA</h2>",
        "<p class='note'>In time: first claimed or moved before the SLA deadline. The met "
        "rate counts leads still waiting past their deadline as missed.</p>",
        table_html(report.sla_channel),
        "<h3>Per SDR (who answered first)</h3>",
        table_html(report.sla_sdr),
    ]


def render_html(report: ChannelReport, csv_links: bool = True) -> str:
    """The whole report as one self-contained HTML page."""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(report.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(report.title)}</h1>",
        _meta(report),
        "".join(f"<p class='note'>{html.escape(n)}</p>" for n in report.notes),
        "<h2>Summary</h2>",
        table_html(report.summary, _SUMMARY_COLUMNS),
        *_drivers_part(report),
        *_funnel_part(report),
    ]
    if csv_links:
        links = " ".join(f"<a href='{name}.csv'>{name}.csv</a>" for name in report.tables())
        parts.append(f"<h2>Data</h2><p>Every table as CSV: {links}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(report: ChannelReport, folder: Path) -> ReportFiles:
    """Write the HTML page and one CSV per table into ``folder`` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    csvs: dict[str, Path] = {}
    for name, table in report.tables().items():
        path = folder / f"{name}.csv"
        table.to_csv(path, index=False)
        csvs[name] = path
    page = folder / HTML_NAME
    page.write_text(render_html(report), encoding="utf-8")
    return ReportFiles(folder=folder, html=page, csvs=csvs)


def log_report(tracking_uri: str, run_id: str, folder: Path, artifact_path: str) -> str:
    """Log the report's files as artifacts of the MLflow run; returns the artifact URI."""
    from training.registry import mlflow_client

    client = mlflow_client(tracking_uri)
    client.log_artifacts(run_id, str(folder), artifact_path=artifact_path)
    run = client.get_run(run_id)
    return f"{run.info.artifact_uri}/{artifact_path}"
