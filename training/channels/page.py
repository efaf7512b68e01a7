"""The channel review as files: one self-contained HTML page (plots embedded as PNG data
URIs, no external assets) and a CSV file per table, optionally logged to the model's MLflow run.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from training.channels.analysis import ALL_LEADS, ChannelReport, outcome_words

HTML_NAME = "channel_report.html"
#: Fields shown per channel in the bar charts and the heat map.
PLOT_TOP = 6
_PERCENT_SUFFIXES = ("_rate", "mean_predicted", "calibration_gap")
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
    folder: Path
    html: Path
    csvs: dict[str, Path]


# --------------------------------------------------------------------------- plots


def figure_png(fig: plt.Figure | None) -> bytes | None:
    """The figure as PNG bytes (the figure is closed); None for no figure."""
    if fig is None:
        return None
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def figure_uri(fig: plt.Figure | None) -> str | None:
    """The figure as a base64 PNG data URI (the figure is closed); None for no figure."""
    png = figure_png(fig)
    if png is None:
        return None
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def drivers_heatmap(report: ChannelReport) -> plt.Figure | None:
    """Driver strength (spread) per field: all leads, then each judged channel."""
    drivers, overall = report.drivers, report.global_drivers
    if drivers.empty or overall.empty:
        return None
    fields = list(
        dict.fromkeys(
            [
                *overall.loc[overall["rank"] <= PLOT_TOP, "field"],
                *drivers.loc[drivers["rank"] <= 3, "field"],
            ]
        )
    )
    columns = [ALL_LEADS, *sorted(drivers["channel"].unique())]
    values = np.full((len(fields), len(columns)), np.nan)
    ranks = np.zeros_like(values)
    for j, channel in enumerate(columns):
        table = overall if channel == ALL_LEADS else drivers[drivers["channel"] == channel]
        indexed = table.set_index("field")
        for i, name in enumerate(fields):
            if name in indexed.index:
                values[i, j] = indexed.at[name, "spread"]
                ranks[i, j] = indexed.at[name, "rank"]
    fig, ax = plt.subplots(figsize=(1.1 * len(columns) + 3, 0.42 * len(fields) + 1.8))
    image = ax.imshow(values, cmap="Blues", aspect="auto")
    for i in range(len(fields)):
        for j in range(len(columns)):
            if not np.isnan(values[i, j]):
                dark = values[i, j] > np.nanmax(values) * 0.6
                ax.text(
                    j,
                    i,
                    f"#{int(ranks[i, j])}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if dark else "black",
                )
    ax.set_xticks(range(len(columns)), columns, rotation=35, ha="right")
    ax.set_yticks(range(len(fields)), fields)
    ax.set_title("Driver strength per channel (spread of SHAP, log-odds; #rank in the column)")
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def _bars(ax: plt.Axes, mine: pd.DataFrame, channel: str) -> None:
    fields = list(mine["field"])[::-1]
    position = np.arange(len(fields))
    ax.barh(position + 0.2, list(mine["spread"])[::-1], height=0.4, color="#2b6cb0", label=channel)
    ax.barh(
        position - 0.2,
        list(mine["global_spread"])[::-1],
        height=0.4,
        color="#bbb",
        label="all leads",
    )
    ax.set_yticks(position, fields, fontsize=8)
    ax.set_title(channel, fontsize=10)
    ax.tick_params(axis="x", labelsize=7)


def driver_bars(report: ChannelReport, channel: str | None = None) -> plt.Figure | None:
    """Top fields per judged channel (or of one ``channel``): spread there (blue) vs over
    all leads (grey), one panel per channel."""
    drivers = report.drivers
    if drivers.empty:
        return None
    channels = [channel] if channel else sorted(drivers["channel"].unique())
    channels = [c for c in channels if (drivers["channel"] == c).any()]
    if not channels:
        return None
    columns = min(3, len(channels))
    rows = -(-len(channels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.3 * columns, 2.6 * rows), squeeze=False)
    for ax, name in zip(axes.flat, channels, strict=False):
        _bars(ax, drivers[drivers["channel"] == name].head(PLOT_TOP), name)
    for ax in list(axes.flat)[len(channels) :]:
        ax.set_visible(False)
    fig.suptitle("Top drivers: spread of SHAP in the channel (blue) vs over all leads (grey)")
    return fig


def funnel_plot(report: ChannelReport) -> plt.Figure | None:
    """Share of leads reaching each stage, per judged channel."""
    funnel = report.funnel_channel
    stages = _stages(report)
    judged = funnel[funnel["verdict"] == "ok"]
    if judged.empty or not stages:
        return None
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(judged) + 2), 4.2))
    width = 0.8 / len(stages)
    position = np.arange(len(judged))
    for k, stage in enumerate(stages):
        share = judged[stage].to_numpy(dtype=float) / judged["leads"].to_numpy(dtype=float)
        ax.bar(position + k * width - 0.4 + width / 2, share, width=width, label=stage)
    ax.set_xticks(position, judged["channel"], rotation=30, ha="right")
    ax.set(ylabel="share of leads", title="Funnel: share of leads reaching each stage")
    ax.legend(fontsize=8)
    return fig


def _stages(report: ChannelReport) -> list[str]:
    funnel = report.funnel_channel
    known = [c for c in funnel.columns if c in ("mql", "sql", "sal", "won")]
    return known or ([report.target] if report.target in funnel.columns else [])


def calibration_plot(report: ChannelReport) -> plt.Figure | None:
    """Mean predicted vs actual conversion per judged channel (the diagonal is perfect)."""
    funnel = report.funnel_channel
    if "mean_predicted" not in funnel:
        return None
    judged = funnel[(funnel["verdict"] == "ok") & funnel["mean_predicted"].notna()]
    if judged.empty:
        return None
    predicted, actual = judged["mean_predicted"], judged["actual_rate"]
    top = float(max(predicted.max(), actual.max()) * 1.15)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, top], [0, top], color="grey", linestyle=":")
    ax.scatter(predicted, actual, s=np.sqrt(judged["decided"].to_numpy(dtype=float)) * 2)
    for row in judged.itertuples():
        ax.annotate(
            str(row.channel),
            (row.mean_predicted, row.actual_rate),
            fontsize=8,
            xytext=(4, 3),
            textcoords="offset points",
        )
    ax.set(
        xlim=(0, top),
        ylim=(0, top),
        xlabel="mean predicted",
        ylabel="actual",
        title=f"Calibration per channel ({outcome_words(report.target)})",
    )
    return fig


def trend_plot(report: ChannelReport) -> plt.Figure | None:
    """Leads and conversion per month and channel (conversion only where judged)."""
    months = report.funnel_month
    if months.empty:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    for channel, group in months.groupby("channel", sort=True):
        judged = group["actual_rate"].where(group["verdict"] == "ok")
        if channel == ALL_LEADS:
            right.plot(group["month"], judged, color="black", linewidth=2.2, label=str(channel))
            continue
        left.plot(group["month"], group["leads"], marker=".", label=str(channel))
        right.plot(group["month"], judged, marker=".", label=str(channel))
    left.set(title="Leads per month", ylabel="leads")
    right.set(title=f"Conversion per month ({report.target}; judged months only)", ylabel="rate")
    for axis in (left, right):
        axis.tick_params(axis="x", rotation=60, labelsize=7)
    right.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


# --------------------------------------------------------------------------- html


def _cell(column: str, value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    if isinstance(value, float | np.floating):
        number = float(value)
        if column.endswith(_PERCENT_SUFFIXES) or "_to_" in column:
            return f"{number:.1%}"
        if column.startswith("avg_") or column.endswith("_value"):
            return f"{number:,.0f}"
        return f"{number:.3f}"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    return html.escape(str(value))


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


def _image(fig: plt.Figure | None, alt: str) -> str:
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
    mine = report.drivers[report.drivers["channel"] == channel].head(3)
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


def render_html(report: ChannelReport, csv_links: bool = True) -> str:
    """The whole report as one self-contained HTML page."""
    summary_columns = [
        "channel",
        "leads",
        "conversions",
        "conversion_rate",
        "mean_predicted",
        "verdict",
        "top_drivers",
    ]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(report.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(report.title)}</h1>",
        _meta(report),
        "".join(f"<p class='note'>{html.escape(n)}</p>" for n in report.notes),
        "<h2>Summary</h2>",
        table_html(report.summary, summary_columns),
        "<h2>What drives conversion in each channel</h2>",
        "<p class='note'>SHAP contributions of the model on each channel's own leads. A "
        "driver's strength is how much its contribution varies between the channel's leads; "
        "the phrase says which values raise or lower the chance (relative to the channel's "
        "average lead).</p>",
        _image(drivers_heatmap(report), "driver heat map"),
        _image(driver_bars(report), "top drivers per channel"),
    ]
    for _, row in report.summary.iterrows():
        if row["channel"] != ALL_LEADS:
            parts.append(_channel_section(report, row))
    parts += [
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
        parts += [
            "<h3>Top drivers per campaign</h3>",
            table_html(
                top,
                [
                    "channel",
                    "campaign",
                    "explained",
                    "rank",
                    "field",
                    "phrase",
                    "spread",
                    "global_rank",
                ],
            ),
        ]
    parts += [
        "<h2>Trend by month</h2>",
        _image(trend_plot(report), "trend"),
        "<details><summary>Funnel per channel and month</summary>",
        table_html(report.funnel_month),
        "</details>",
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
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    client.log_artifacts(run_id, str(folder), artifact_path=artifact_path)
    run = client.get_run(run_id)
    return f"{run.info.artifact_uri}/{artifact_path}"
