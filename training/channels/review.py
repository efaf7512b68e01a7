"""The channel review, once: the leads, the model and what is asked go in, the report comes out.

Every caller (the ``leadscore report channels`` command, the service's report routes, the
channel-review notebook) hands over the same things: the leads as one frame read by its spec
(:class:`StoreLeads`: the lead store's records; :class:`ExportLeads`: a CRM export loaded
with its spec), the registered model to explain (None: the funnel only) and
:class:`ReviewOptions`; :func:`channel_review` makes the report. Choosing a registered model
when none is named (:func:`registered_model`) and writing the files and logging them to the
model's run (:func:`save_review`) live here too. Where the service's leads and model come
from is the serving side's business.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from features.dataset import LeadData
from features.spec import DatasetSpec, KnownAt
from training.channels.funnel import Thresholds
from training.channels.leads import Period, ReportLeads, leads_from_data, leads_from_records
from training.channels.report import ChannelReport, build_channel_report

if TYPE_CHECKING:
    from training.channels.page import ReportFiles
    from training.registry import VersionedModel, VersionedOutlook

#: The moments a model scores at, tried in this order when none is asked for: the qualified
#: model sees the most.
PREFERRED_KNOWN_ATS: tuple[str, ...] = (KnownAt.QUALIFIED.value, KnownAt.ARRIVAL.value)


@dataclass(frozen=True)
class StoreLeads:
    """Leads as the lead store keeps them: flat records with their outcomes (stage reached,
    status, deal value); the spec, when there is one, gives the currency rates."""

    frame: pd.DataFrame
    spec: DatasetSpec | None = None
    source: str = "lead store"

    def __len__(self) -> int:
        return len(self.frame)

    def report_leads(self) -> ReportLeads:
        return leads_from_records(self.frame, spec=self.spec, source=self.source)


@dataclass(frozen=True)
class ExportLeads:
    """A CRM export loaded with its spec. The file is read again for the outcome columns
    the spec drops (stage reached, status, deal value), when it has them."""

    data: LeadData

    def __len__(self) -> int:
        return len(self.data)

    def report_leads(self) -> ReportLeads:
        from features.dataset import DatasetError, read_raw

        try:
            raw = read_raw(Path(self.data.source), self.data.spec)
        except DatasetError:
            raw = None
        return leads_from_data(self.data, raw)


#: The leads of a review: from the lead store or from a CRM export.
LeadFrame = StoreLeads | ExportLeads


@dataclass(frozen=True)
class ReviewOptions:
    """What a review is asked for: the period, when a group is too small to judge, how many
    leads per channel and campaign are explained, the page's title, the language of the
    report's words (``locale``; its tables keep English machine values) and the currency
    its deal values are shown in (``currency``, the display currency; None: the base)."""

    period: Period = field(default_factory=lambda: Period("all"))
    thresholds: Thresholds = field(default_factory=Thresholds)
    explain_per_group: int = 500
    title: str = "Channel review"
    locale: str = "en"
    currency: str | None = None


def channel_review(
    leads: LeadFrame,
    model: VersionedModel | None,
    options: ReviewOptions,
    outlook: VersionedOutlook | None = None,
) -> ChannelReport:
    """The channel review of the leads that arrived in the period, explaining ``model``;
    with ``outlook``, each group's expected pipeline value too."""
    return build_channel_report(
        leads.report_leads(),
        None if model is None else model.model,
        period=options.period,
        thresholds=options.thresholds,
        model_name=None if model is None else model.name,
        model_version=None if model is None else model.version,
        explain_per_group=options.explain_per_group,
        title=options.title,
        locale=options.locale,
        currency=options.currency,
        outlook=None if outlook is None else outlook.model,
    )


def default_reference(
    tracking_uri: str, dataset: str, known_ats: Sequence[str], target: str
) -> str | None:
    """The first of the data set's models (qualified, then arrival) that has a champion."""
    from training.registry import champion_version, model_name

    for known_at in [k for k in PREFERRED_KNOWN_ATS if k in known_ats]:
        name = model_name(known_at, target, dataset)
        if champion_version(tracking_uri, name) is not None:
            return name
    return None


def registered_model(
    tracking_uri: str,
    reference: str | None,
    *,
    dataset: str,
    known_ats: Sequence[str] = PREFERRED_KNOWN_ATS,
    target: str,
) -> VersionedModel | None:
    """The model ``reference`` names (``NAME``, ``NAME@ALIAS``, ``NAME/VERSION``), else the
    data set's default champion; None when nothing is named and no model has a champion.
    Raises ``ModelNotFoundError`` for a reference the registry cannot resolve."""
    from training.registry import resolve_model

    chosen = reference or default_reference(tracking_uri, dataset, known_ats, target)
    return None if chosen is None else resolve_model(tracking_uri, chosen)


@dataclass(frozen=True)
class SavedReview:
    """The report's files, where they were logged in MLflow (None: not logged), and the
    reports logged to the same run before it."""

    files: ReportFiles
    run_id: str | None = None
    artifact_uri: str | None = None
    earlier: tuple[str, ...] = ()


#: Where a run keeps its channel reports, one folder per report.
REPORTS_FOLDER = "channel_report"


def report_folder(report: ChannelReport, at: datetime) -> str:
    """The artifact folder of one report: period, moment, target and time, so reports of
    one model never overwrite each other."""
    known_at = report.model.known_at if report.model is not None else "no-model"
    stamp = at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{REPORTS_FOLDER}/{report.period.slug}_{known_at}_{report.target}_{stamp}"


def logged_reports(tracking_uri: str, run_id: str) -> tuple[str, ...]:
    """The channel reports already logged to a run, oldest first."""
    from training.registry import mlflow_client

    found = mlflow_client(tracking_uri).list_artifacts(run_id, REPORTS_FOLDER)
    return tuple(sorted((a.path for a in found if a.is_dir), key=lambda p: p.rsplit("_", 1)[-1]))


def save_review(
    report: ChannelReport,
    folder: Path,
    model: VersionedModel | None = None,
    tracking_uri: str | None = None,
) -> SavedReview:
    """Write the page and the CSV files into ``folder``; with a tracking URI and a model
    from a run, log them as a new folder under ``channel_report/`` of that run too."""
    from training.channels.page import log_report, write_report

    files = write_report(report, folder)
    if tracking_uri is None or model is None or model.run_id is None:
        return SavedReview(files)
    earlier = logged_reports(tracking_uri, model.run_id)
    uri = log_report(tracking_uri, model.run_id, folder, report_folder(report, datetime.now(UTC)))
    return SavedReview(files, model.run_id, uri, earlier)
