"""What the service hands to the channel review: the lead store's leads of a period, the
model in service, and the options (thresholds, leads explained) its settings give.

The review itself, the same for every caller, is ``channel_review``; this module only
gathers what the service puts into it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from features.deal import as_stored
from serving.modelset import ModelSet
from serving.settings import ServingSettings
from serving.store.leads import Store
from serving.store.outcomes import store_frame

if TYPE_CHECKING:
    from features.spec import DatasetSpec
    from training.channels.leads import Period
    from training.channels.report import ChannelReport
    from training.channels.review import ReviewOptions, StoreLeads
    from training.registry import VersionedModel, VersionedOutlook

#: The title of a review of the lead store.
STORE_TITLE = "Channel review: lead store"


def review_options(
    settings: ServingSettings,
    period: Period,
    *,
    min_leads: int | None = None,
    min_conversions: int | None = None,
    explain_per_group: int | None = None,
    title: str = STORE_TITLE,
) -> ReviewOptions:
    """The review of ``period`` as the settings ask for it, with optional overrides; deal
    values in the installation's display currency (``LEADSCORE_DISPLAY_CURRENCY``)."""
    from training.channels.funnel import Thresholds
    from training.channels.review import ReviewOptions

    thresholds = Thresholds(
        min_leads=settings.report_min_leads if min_leads is None else min_leads,
        min_conversions=(
            settings.report_min_conversions if min_conversions is None else min_conversions
        ),
    )
    return ReviewOptions(
        period,
        thresholds,
        explain_per_group or settings.report_explain_per_group,
        title,
        currency=settings.display_currency,
    )


def dataset_spec(name: str) -> DatasetSpec | None:
    """The spec of the data set in service (for currency rates), None when not loadable."""
    from features.spec import SpecError, load_spec

    try:
        return load_spec(name)
    except SpecError:
        return None


def store_leads(store: Store, settings: ServingSettings, period: Period) -> StoreLeads:
    """The leads that arrived in ``period``, with their outcomes, from the lead store."""
    from training.channels.review import StoreLeads

    before = None if period.end is None else period.end.to_pydatetime()
    frame = store_frame(store, arrived_before=before)
    mask = period.mask(pd.DatetimeIndex(frame["arrived_at"]))
    frame = frame if mask is None else frame[mask]
    spec = dataset_spec(settings.dataset)
    return StoreLeads(frame, None if spec is None else as_stored(spec))  # the store's deals


def read_store_leads(settings: ServingSettings, period: Period) -> StoreLeads:
    """:func:`store_leads` of the store the settings name (opened and closed here)."""
    store = Store.open(settings.store_url, settings.db_busy_timeout_ms)
    try:
        return store_leads(store, settings, period)
    finally:
        store.close()


def served_model(
    models: ModelSet, target: str, known_at: str | None = None
) -> VersionedModel | None:
    """The champion in service for ``target`` (at ``known_at``, else qualified, else arrival)."""
    from training.channels.review import PREFERRED_KNOWN_ATS
    from training.model import LeadModel

    for candidate in (known_at,) if known_at else PREFERRED_KNOWN_ATS:
        served = models.get(candidate, target)
        if served is not None and isinstance(served.model, LeadModel):
            return served
    return None


def served_outlook(models: ModelSet, served: VersionedModel | None) -> VersionedOutlook | None:
    """The outlook in service at the reviewed model's moment (None without either)."""
    return None if served is None else models.outlook(served.model.known_at)


def service_report(
    settings: ServingSettings,
    store: Store,
    models: ModelSet,
    options: ReviewOptions,
    known_at: str | None = None,
) -> ChannelReport:
    """The channel review of the stored leads with the model in service."""
    from training.channels.review import channel_review

    served = served_model(models, settings.score_target, known_at)
    leads = store_leads(store, settings, options.period)
    return channel_review(leads, served, options, served_outlook(models, served))
