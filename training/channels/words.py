"""The channel review's words: the ``training`` gettext domain, column labels, verdicts.

Texts are English message ids in ``training/catalogs/training.<locale>.po`` (read with
Babel at first use, see ``features.i18n.catalogs``). The language is always a parameter
(``locale``, default ``"en"``), never global state. The tables keep their machine values
(column names, ``ok`` and the English too-few verdict, ``(all leads)``): they are put into
words only where a page or a figure shows them.
"""

from __future__ import annotations

import re

from features.i18n import N_, Translator, translator

#: The training layer's gettext domain and the package holding ``catalogs/<domain>.<locale>.po``.
DOMAIN = "training"
PACKAGE = "training"


def report_words(locale: str | None = "en") -> Translator:
    """The channel review's translator in ``locale`` (a supported language; else English)."""
    return translator(locale, domain=DOMAIN, package=PACKAGE)


#: A label per column name of the review's tables (the names stay the machine values).
COLUMN_LABELS: dict[str, str] = {
    "channel": N_("Channel"),
    "campaign": N_("Campaign"),
    "month": N_("Month"),
    "sdr": N_("SDR"),
    "leads": N_("Leads"),
    "conversions": N_("Conversions"),
    "conversion_rate": N_("Conversion rate"),
    "mean_predicted": N_("Mean predicted"),
    "verdict": N_("Verdict"),
    "top_drivers": N_("Top drivers"),
    "vs_global": N_("Rank vs all leads"),
    "specific_to_channel": N_("Stronger here"),
    "matters_less_here": N_("Matters less here"),
    "field": N_("Field"),
    "mean_abs_shap": N_("Mean |SHAP|"),
    "mean_shap": N_("Mean SHAP"),
    "spread": N_("Spread"),
    "rank": N_("Rank"),
    "varies": N_("Varies"),
    "direction": N_("Direction"),
    "phrase": N_("In words"),
    "explained": N_("Leads explained"),
    "global_rank": N_("Rank over all leads"),
    "global_spread": N_("Spread over all leads"),
    "open": N_("Open"),
    "deals_valued": N_("Deals with a value"),
    "avg_deal_value": N_("Average deal value"),
    "expected_pipeline_value": N_("Expected pipeline value"),
    "decided": N_("Decided"),
    "actual_rate": N_("Actual rate"),
    "calibration_gap": N_("Calibration gap"),
    "answered": N_("Answered"),
    "in_time": N_("In time"),
    "late": N_("Late"),
    "waiting_overdue": N_("Waiting, overdue"),
    "met_rate": N_("SLA met rate"),
    "median_answer_minutes": N_("Median answer, minutes"),
}
#: The funnel stages as the column names and rate labels say them.
STAGE_LABELS: dict[str, str] = {
    "lead": N_("lead"),
    "mql": N_("MQL"),
    "sql": N_("SQL"),
    "sal": N_("SAL"),
    "won": N_("won"),
    "converted": N_("converted"),
}
#: The title a review of a data file gets: ``Channel review: <spec name>``.
_TITLE_OF = "Channel review: "
#: The all-leads group's label in tables (its machine value is ``funnel.ALL_LEADS``).
ALL_LEADS_LABEL = N_("(all leads)")
_TOO_FEW = re.compile(
    r"^too few leads to judge \((\d+) leads, (\d+) conversions; needs (\d+) and (\d+)\)$"
)


def _stage(name: str, said: Translator) -> str:
    return said.gettext(STAGE_LABELS[name]) if name in STAGE_LABELS else name.replace("_", " ")


def column_label(column: str, locale: str | None = "en") -> str:
    """A column's header: ``conversion_rate`` -> "Conversion rate" / "Конверсия";
    ``mql_to_sql`` -> "MQL → SQL"; a name without a label reads with spaces."""
    said = report_words(locale)
    if column in COLUMN_LABELS:
        return said.gettext(COLUMN_LABELS[column])
    if column in STAGE_LABELS:
        return _stage(column, said)
    if "_to_" in column:
        first, _, last = column.partition("_to_")
        return f"{_stage(first, said)} → {_stage(last, said)}"
    return column.replace("_", " ")


def verdict_text(verdict: str, locale: str | None = "en") -> str:
    """A group's verdict as people read it: ``ok`` -> "ok" / "можно судить", the too-few
    verdict with its numbers; an unknown one as it is."""
    said = report_words(locale)
    if verdict == "ok":
        return said.gettext(N_("ok"))
    found = _TOO_FEW.match(verdict)
    if found is None:
        return verdict
    leads, conversions, min_leads, min_conversions = found.groups()
    text = said.gettext(
        N_(
            "too few leads to judge ({leads} leads, {conversions} conversions; "
            "needs {min_leads} and {min_conversions})"
        )
    )
    return text.format(
        leads=leads,
        conversions=conversions,
        min_leads=min_leads,
        min_conversions=min_conversions,
    )


def group_label(value: str, locale: str | None = "en") -> str:
    """A group key as shown: the all-leads row in words, any other key as it is."""
    return report_words(locale).gettext(ALL_LEADS_LABEL) if value == ALL_LEADS_LABEL else value


def title_text(title: str, locale: str | None = "en") -> str:
    """A review's title in ``locale``: a known title translated, ``Channel review: <name>``
    with its name kept, any other title as it is."""
    said = report_words(locale)
    known = said.gettext(title)
    if known != title or not title.startswith(_TITLE_OF):
        return known
    return said.gettext(N_("Channel review: {name}")).format(name=title.removeprefix(_TITLE_OF))
