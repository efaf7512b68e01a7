"""Marketing's channel review from the lead store, the models in service or the registry.

The computations are ``training.channels.analysis`` (tables) and ``training.channels.page`` (HTML,
CSV, MLflow); this module only gathers their inputs: the period's leads from the store
(through ``serving.store.outcomes.store_frame``), the model (the champion in service, or a
registered version), and the thresholds from the settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from serving.modelset import ModelSet
from serving.settings import ServingSettings
from serving.store.leads import Store
from serving.store.outcomes import store_frame

if TYPE_CHECKING:
    from features.spec import DatasetSpec
    from training.channels.analysis import ChannelReport, Period, ReportLeads, Thresholds
    from training.registry import VersionedModel

#: Stages tried, in order, when no stage is asked for: the qualified model sees the most.
STAGE_ORDER: tuple[str, ...] = ("qualified", "arrival")


def thresholds_of(
    settings: ServingSettings, min_leads: int | None = None, min_conversions: int | None = None
) -> Thresholds:
    """The settings' "too few leads to judge" thresholds, with optional overrides."""
    from training.channels.analysis import Thresholds

    return Thresholds(
        min_leads=settings.report_min_leads if min_leads is None else min_leads,
        min_conversions=(
            settings.report_min_conversions if min_conversions is None else min_conversions
        ),
    )


def dataset_spec(name: str) -> DatasetSpec | None:
    """The spec of the data set in service (for currency rates), None when not loadable."""
    from features.spec import SpecError, load_spec

    try:
        return load_spec(name)
    except SpecError:
        return None


def store_leads(store: Store, period: Period, spec: DatasetSpec | None = None) -> ReportLeads:
    """The leads that arrived in ``period``, with their outcomes, from the lead store."""
    from training.channels.analysis import leads_from_records

    before = None if period.end is None else period.end.to_pydatetime()
    frame = store_frame(store, arrived_before=before)
    leads = leads_from_records(frame, spec=spec, source="lead store")
    return leads.in_period(period)


def served_model(models: ModelSet, target: str, stage: str | None = None) -> VersionedModel | None:
    """The champion in service for ``target`` (at ``stage``, else qualified, else arrival)."""
    from training.model import LeadModel

    for candidate in (stage,) if stage else STAGE_ORDER:
        served = models.get(candidate, target)
        if served is not None and isinstance(served.model, LeadModel):
            return served
    return None


def service_report(
    settings: ServingSettings,
    store: Store,
    models: ModelSet,
    period: Period,
    *,
    stage: str | None = None,
    thresholds: Thresholds | None = None,
) -> ChannelReport:
    """The channel review of the stored leads of ``period`` with the model in service."""
    from training.channels.analysis import build_channel_report

    served = served_model(models, settings.score_target, stage)
    leads = store_leads(store, period, dataset_spec(settings.dataset))
    return build_channel_report(
        leads,
        None if served is None else served.model,
        period=period,
        thresholds=thresholds or thresholds_of(settings),
        model_name=None if served is None else served.name,
        model_version=None if served is None else served.version,
        explain_per_group=settings.report_explain_per_group,
        title="Channel review: lead store",
    )


def default_reference(
    tracking_uri: str, dataset: str, stages: list[str], target: str
) -> str | None:
    """The first of the data set's models (qualified, then arrival) that has a champion."""
    from training.registry import champion_version, model_name

    for stage in [s for s in STAGE_ORDER if s in stages]:
        name = model_name(stage, target, dataset)
        if champion_version(tracking_uri, name) is not None:
            return name
    return None
