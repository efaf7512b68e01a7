"""The figures of the channel review (matplotlib, Agg): driver strength per channel, each
channel's top drivers against all leads, the funnel, calibration and the monthly trend.

Every figure function returns None when the report has nothing to draw; ``figure_png`` and
``figure_uri`` turn a figure into PNG bytes or a data URI (and close it). Titles and axis
labels are in ``locale`` (default: the report's language).
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from features.i18n import N_, Translator
from training.channels.funnel import ALL_LEADS, outcome_words
from training.channels.report import ChannelReport
from training.channels.words import column_label, group_label, report_words

#: Fields shown per channel in the bar charts and the heat map.
PLOT_TOP = 6


def _words(report: ChannelReport, locale: str | None) -> Translator:
    return report_words(locale or report.locale)


def figure_png(fig: plt.Figure | None, dpi: int = 100) -> bytes | None:
    """The figure as PNG bytes (the figure is closed); None for no figure."""
    if fig is None:
        return None
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


def figure_uri(fig: plt.Figure | None) -> str | None:
    """The figure as a base64 PNG data URI (the figure is closed); None for no figure."""
    png = figure_png(fig)
    if png is None:
        return None
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def drivers_heatmap(report: ChannelReport, locale: str | None = None) -> plt.Figure | None:
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
    said = _words(report, locale)
    names = [group_label(c, said.locale) for c in columns]
    ax.set_xticks(range(len(columns)), names, rotation=35, ha="right")
    ax.set_yticks(range(len(fields)), fields)
    ax.set_title(
        said.gettext(
            N_("Driver strength per channel (spread of SHAP, log-odds; #rank in the column)")
        )
    )
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def _bars(ax: plt.Axes, mine: pd.DataFrame, channel: str, said: Translator) -> None:
    fields = list(mine["field"])[::-1]
    position = np.arange(len(fields))
    ax.barh(position + 0.2, list(mine["spread"])[::-1], height=0.4, color="#2b6cb0", label=channel)
    ax.barh(
        position - 0.2,
        list(mine["global_spread"])[::-1],
        height=0.4,
        color="#bbb",
        label=said.gettext(N_("all leads")),
    )
    ax.set_yticks(position, fields, fontsize=8)
    ax.set_title(channel, fontsize=10)
    ax.tick_params(axis="x", labelsize=7)


def driver_bars(
    report: ChannelReport, channel: str | None = None, locale: str | None = None
) -> plt.Figure | None:
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
    said = _words(report, locale)
    for ax, name in zip(axes.flat, channels, strict=False):
        _bars(ax, drivers[drivers["channel"] == name].head(PLOT_TOP), name, said)
    for ax in list(axes.flat)[len(channels) :]:
        ax.set_visible(False)
    fig.suptitle(
        said.gettext(
            N_("Top drivers: spread of SHAP in the channel (blue) vs over all leads (grey)")
        )
    )
    return fig


def funnel_plot(report: ChannelReport, locale: str | None = None) -> plt.Figure | None:
    """Share of leads reaching each stage, per judged channel."""
    funnel = report.funnel_channel
    stages = _stages(report)
    judged = funnel[funnel["verdict"] == "ok"]
    if judged.empty or not stages:
        return None
    said = _words(report, locale)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(judged) + 2), 4.2))
    width = 0.8 / len(stages)
    position = np.arange(len(judged))
    for k, stage in enumerate(stages):
        share = judged[stage].to_numpy(dtype=float) / judged["leads"].to_numpy(dtype=float)
        label = column_label(stage, said.locale)
        ax.bar(position + k * width - 0.4 + width / 2, share, width=width, label=label)
    names = [group_label(str(c), said.locale) for c in judged["channel"]]
    ax.set_xticks(position, names, rotation=30, ha="right")
    ax.set(
        ylabel=said.gettext(N_("share of leads")),
        title=said.gettext(N_("Funnel: share of leads reaching each stage")),
    )
    ax.legend(fontsize=8)
    return fig


def _stages(report: ChannelReport) -> list[str]:
    funnel = report.funnel_channel
    known = [c for c in funnel.columns if c in ("mql", "sql", "sal", "won")]
    return known or ([report.target] if report.target in funnel.columns else [])


def calibration_plot(report: ChannelReport, locale: str | None = None) -> plt.Figure | None:
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
    said = _words(report, locale)
    title = said.gettext(N_("Calibration per channel ({outcome})"))
    ax.set(
        xlim=(0, top),
        ylim=(0, top),
        xlabel=said.gettext(N_("mean predicted")),
        ylabel=said.gettext(N_("actual")),
        title=title.format(outcome=outcome_words(report.target, said.locale)),
    )
    return fig


def trend_plot(report: ChannelReport, locale: str | None = None) -> plt.Figure | None:
    """Leads and conversion per month and channel (conversion only where judged)."""
    months = report.funnel_month
    if months.empty:
        return None
    said = _words(report, locale)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    for channel, group in months.groupby("channel", sort=True):
        judged = group["actual_rate"].where(group["verdict"] == "ok")
        if channel == ALL_LEADS:
            name = group_label(str(channel), said.locale)
            right.plot(group["month"], judged, color="black", linewidth=2.2, label=name)
            continue
        left.plot(group["month"], group["leads"], marker=".", label=str(channel))
        right.plot(group["month"], judged, marker=".", label=str(channel))
    left.set(title=said.gettext(N_("Leads per month")), ylabel=said.gettext(N_("leads")))
    conversion = said.gettext(N_("Conversion per month ({target}; judged months only)"))
    right.set(title=conversion.format(target=report.target), ylabel=said.gettext(N_("rate")))
    for axis in (left, right):
        axis.tick_params(axis="x", rotation=60, labelsize=7)
    right.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig
