"""The models the service scores with, and how they are (re)loaded from the MLflow registry.

A :class:`ModelSet` is an immutable snapshot of the champions loaded for each moment (known_at) and
target. The :class:`ModelHolder` swaps whole snapshots by reference: a request takes the
reference once at its start (``holder.current``) and finishes on that snapshot even if a
reload swaps in a new one meanwhile, so a reload never fails a request.

The registry is reached through the small :class:`ModelLoader` protocol:
:class:`RegistryLoader` is the MLflow registry, :class:`MemoryLoader` holds models
published in memory (embedding the service, tests). A registry that cannot be reached
(``RegistryUnreachableError``) stops a load at once: every slot keeps what it served, and
the set says why (``registry_problem``) until a look-up succeeds again. The periodic check
(:func:`refresh`) runs in the background (``serving/background.py``).

Each moment also has a slot for its outlook (``training.outlook``: time to conversion and
expected value), ``(known_at, "outlook")``, loaded the same way; a moment without an outlook
champion serves no outlook (not an error, and no fallback).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np

from training.model import ScoredLead
from training.outlook import OUTLOOK, Outlook
from training.registry import (
    RegistryUnreachableError,
    VersionedModel,
    VersionedOutlook,
    champion_version,
    load_champion,
    load_outlook,
    model_name,
)

log = logging.getLogger(__name__)

KNOWN_ATS: tuple[str, ...] = ("arrival", "qualified")
TARGETS: tuple[str, ...] = ("sql", "won")
Slot = tuple[str, str]  # (known_at, target), or (known_at, OUTLOOK)
#: What a slot serves: a scoring model, or a moment's outlook.
Served = VersionedModel | VersionedOutlook


class ScoringModel(Protocol):
    """What serving needs from a trained model (a ``LeadModel``)."""

    def score(self, records: Any, top_k: int = 3) -> Sequence[ScoredLead]: ...

    def predict_proba(self, records: Any) -> np.ndarray: ...


class ModelLoader(Protocol):
    """Finds registered champions: names per slot, the champion's version, the model."""

    def model_name(self, known_at: str, target: str, dataset: str) -> str: ...

    def load(self, name: str) -> VersionedModel | None: ...

    def load_outlook(self, name: str) -> VersionedOutlook | None: ...

    def version(self, name: str) -> str | None: ...


#: Why the set the service starts with has no champions: the registry has not answered yet.
NOT_LOADED_YET = "the model registry has not answered yet"


@dataclass(frozen=True)
class ModelSet:
    """The champions in service, per (known_at, target); a missing slot scores with the rule.
    ``registry_problem`` says why champions may be missing (None: the registry answered)."""

    names: Mapping[Slot, str]
    models: Mapping[Slot, VersionedModel] = field(default_factory=dict)
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    registry_problem: str | None = None
    outlooks: Mapping[str, VersionedOutlook] = field(default_factory=dict)  # by known_at

    def get(self, known_at: str, target: str) -> VersionedModel | None:
        return self.models.get((known_at, target))

    def outlook(self, known_at: str) -> VersionedOutlook | None:
        """The outlook in service at ``known_at`` (None: none is loaded)."""
        return self.outlooks.get(known_at)

    def served(self, slot: Slot) -> Served | None:
        return self.outlooks.get(slot[0]) if slot[1] == OUTLOOK else self.models.get(slot)

    def name(self, known_at: str, target: str) -> str:
        return self.names[(known_at, target)]

    def versions(self) -> dict[str, str | None]:
        """Every expected model name with the version in service (None: not loaded)."""
        return {
            name: (served.version if (served := self.served(slot)) else None)
            for slot, name in self.names.items()
        }

    def replace(self, slot: Slot, served: Served | None) -> ModelSet:
        models = {key: value for key, value in self.models.items() if key != slot}
        outlooks = {key: value for key, value in self.outlooks.items() if (key, OUTLOOK) != slot}
        if served is not None and isinstance(served.model, Outlook):
            outlooks[slot[0]] = served
        elif served is not None:
            models[slot] = served
        return ModelSet(
            self.names, models, registry_problem=self.registry_problem, outlooks=outlooks
        )

    def with_problem(self, problem: str | None) -> ModelSet:
        """The same champions, with why the registry could not be asked (None: it answered)."""
        if problem == self.registry_problem:
            return self
        return dataclasses.replace(self, registry_problem=problem)


class ModelHolder:
    """The current :class:`ModelSet`, swapped atomically by reference."""

    def __init__(self, initial: ModelSet) -> None:
        self._current = initial
        self._swap_lock = threading.Lock()

    @property
    def current(self) -> ModelSet:
        return self._current

    def update(self, change: Callable[[ModelSet], ModelSet]) -> ModelSet:
        """Swap in ``change(current)``; updates are serialised, readers never wait."""
        with self._swap_lock:
            self._current = change(self._current)
            return self._current


class MemoryLoader:
    """Champions held in memory instead of a registry: for embedding the service in another
    program (publish a trained ``LeadModel``, or an ``Outlook``, directly) and for testing it
    without MLflow."""

    def __init__(self) -> None:
        self._models: dict[str, VersionedModel] = {}
        self._outlooks: dict[str, VersionedOutlook] = {}
        self._lock = threading.Lock()

    def publish(self, name: str, version: str, model: Any) -> None:
        with self._lock:
            if isinstance(model, Outlook):
                self._outlooks[name] = VersionedOutlook(name, version, model)
            else:
                self._models[name] = VersionedModel(name, version, model)

    def withdraw(self, name: str) -> None:
        with self._lock:
            self._models.pop(name, None)
            self._outlooks.pop(name, None)

    def model_name(self, known_at: str, target: str, dataset: str) -> str:
        return model_name(known_at, target, dataset)

    def load(self, name: str) -> VersionedModel | None:
        with self._lock:
            return self._models.get(name)

    def load_outlook(self, name: str) -> VersionedOutlook | None:
        with self._lock:
            return self._outlooks.get(name)

    def version(self, name: str) -> str | None:
        held = self.load(name) or self.load_outlook(name)
        return None if held is None else held.version


class RegistryLoader:
    """The MLflow model registry: champions by alias."""

    def __init__(self, tracking_uri: str) -> None:
        self.tracking_uri = tracking_uri

    def model_name(self, known_at: str, target: str, dataset: str) -> str:
        return model_name(known_at, target, dataset)

    def load(self, name: str) -> VersionedModel | None:
        return load_champion(self.tracking_uri, name)

    def load_outlook(self, name: str) -> VersionedOutlook | None:
        return load_outlook(self.tracking_uri, name)

    def version(self, name: str) -> str | None:
        return champion_version(self.tracking_uri, name)


def expected_names(loader: ModelLoader, dataset: str) -> dict[Slot, str]:
    """Every slot's registered name: the models of each moment and target, then each
    moment's outlook."""
    return {
        (known_at, target): loader.model_name(known_at, target, dataset)
        for known_at in KNOWN_ATS
        for target in (*TARGETS, OUTLOOK)
    }


def _checked(slot: Slot, loaded: VersionedModel) -> VersionedModel:
    """The loaded model, with a warning when it was trained for another slot."""
    known_at, target = slot
    model = loaded.model
    found = (getattr(model, "known_at", known_at), getattr(model, "target", target))
    if found != slot:
        log.warning(
            "model %s v%s is for %s/%s but registered as %s/%s",
            loaded.name,
            loaded.version,
            *found,
            *slot,
        )
    return loaded


def load_slot(loader: ModelLoader, slot: Slot, name: str) -> Served | None:
    """The champion for one slot (None when there is none). Registry errors propagate."""
    if slot[1] == OUTLOOK:
        return loader.load_outlook(name)
    loaded = loader.load(name)
    return None if loaded is None else _checked(slot, loaded)


def load_model_set(loader: ModelLoader, dataset: str, previous: ModelSet | None = None) -> ModelSet:
    """Load every champion. A slot whose load fails keeps its previous model (if any); a
    registry that does not answer stops the load: the slots not loaded yet keep theirs."""
    names = expected_names(loader, dataset)
    loaded = ModelSet(names)
    problem = None
    for slot, name in names.items():
        served = previous.served(slot) if previous is not None else None
        if problem is None:
            try:
                served = load_slot(loader, slot, name)
            except RegistryUnreachableError as error:
                log.error("%s; keeping what was served", error)
                problem = str(error)
            except Exception:
                log.exception("could not load the champion of %s; keeping what was served", name)
        loaded = loaded.replace(slot, served)
    return loaded.with_problem(problem)


def refresh(loader: ModelLoader, current: ModelSet) -> ModelSet:
    """Reload only the slots whose champion version changed (cheap alias look-ups).

    A served model is never dropped here; an admin reload (``load_model_set``) drops models
    without champion. A registry that does not answer raises ``RegistryUnreachableError``
    (nothing changes; the caller retries); a look-up that succeeds clears the set's
    ``registry_problem``.
    """
    updated = current
    for slot, name in current.names.items():
        version = loader.version(name)  # RegistryUnreachableError propagates
        served = current.served(slot)
        if version == (served.version if served else None):
            continue
        if version is None:
            log.warning("no champion of %s found; still serving its version", name)
            continue
        try:
            fresh = load_slot(loader, slot, name)
        except RegistryUnreachableError:
            raise
        except Exception:
            log.exception("could not load %s version %s; keeping what was served", name, version)
            continue
        log.info(
            "champion of %s changed: %s -> %s",
            name,
            served.version if served else "none",
            fresh.version if fresh else "none",
        )
        updated = updated.replace(slot, fresh)
    return updated.with_problem(None)


def check_models(holder: ModelHolder, loader: ModelLoader) -> ModelSet:
    """One periodic check: swap in the champions that changed. When the registry does not
    answer, the set in service records why and the error propagates (to be retried)."""
    try:
        return holder.update(lambda current: refresh(loader, current))
    except Exception as error:
        problem = str(error) if isinstance(error, RegistryUnreachableError) else repr(error)
        holder.update(lambda current: current.with_problem(problem))
        raise
