"""Reading the story's data files (``data/*.yaml``, shipped with the package) into typed models.

Every problem is reported with the file and the key it is at, e.g.
``features/demo/data/channels.yaml: channels.social.share: Input should be a valid number``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import resources
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

_M = TypeVar("_M", bound=BaseModel)
_V = TypeVar("_V")


class StoryError(ValueError):
    """A demo data file that cannot be used; the message names the file and the key."""


class Entry(BaseModel):
    """A frozen model that accepts no unknown keys (a typo is an error, not a default)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def data_path(name: str) -> str:
    """How problems name a data file."""
    return f"features/demo/data/{name}"


def read_data(name: str, model: type[_M], check: Callable[[_M], list[str]] | None = None) -> _M:
    """Parse and validate one data file; ``check`` lists problems the types cannot catch."""
    text = resources.files("features.demo").joinpath(f"data/{name}").read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise StoryError(f"{data_path(name)}: not valid YAML: {exc}") from None
    try:
        loaded = model.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{data_path(name)}: {key_path(e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise StoryError("\n".join(problems)) from None
    raise_problems([f"{data_path(name)}: {p}" for p in (check(loaded) if check else [])])
    return loaded


def key_path(loc: Sequence[Any]) -> str:
    """``channels.social.sources."vc.ru"``: the keys to a value, quoted where they need it."""
    parts = []
    for part in loc:
        text = str(part)
        parts.append(f'"{text}"' if any(c in text for c in ". ") or text == "" else text)
    return ".".join(parts) or "(top level)"


def _keyed_to_tuple(names: Sequence[str]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if not isinstance(value, dict):
            return value  # pydantic names the wrong type
        keys = [str(k) for k in value]
        if sorted(keys) != sorted(names):
            missing = [n for n in names if n not in keys]
            unknown = [k for k in keys if k not in names]
            raise ValueError(
                f"expected the keys {', '.join(names)}"
                + (f"; missing: {', '.join(missing)}" if missing else "")
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            )
        by_name = {str(k): v for k, v in value.items()}
        return tuple(by_name[n] for n in names)

    return convert


def keyed(names: Sequence[str]) -> BeforeValidator:
    """For ``Annotated[tuple[float, ...], keyed(names)]``: a mapping with exactly the keys
    ``names``, read as the tuple of its values in that order."""
    return BeforeValidator(_keyed_to_tuple(tuple(names)))


def _inject_names(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    return {k: {"name": k, **v} if isinstance(v, dict) else v for k, v in value.items()}


#: ``{name: {fields}}`` in a file, each entry validated with its name as the ``name`` field.
Named = Annotated[dict[Any, _V], BeforeValidator(_inject_names)]


def exactly(where: str, keys: Sequence[Any], expected: Sequence[Any]) -> list[str]:
    """A problem (as a one-item list) unless ``keys`` are ``expected``, in that order."""
    if list(keys) == list(expected):
        return []
    return [
        f"{where}: expected the keys {', '.join(map(str, expected))} in this order, "
        f"got {', '.join(map(str, keys))}"
    ]


def known(where: str, values: Sequence[Any], allowed: Sequence[Any], what: str) -> list[str]:
    """Problems for the ``values`` that are not ``allowed``."""
    return [
        f"{where}: unknown {what} '{value}'; expected one of: {', '.join(map(str, allowed))}"
        for value in values
        if value not in allowed
    ]


def raise_problems(problems: Sequence[str]) -> None:
    if problems:
        raise StoryError("\n".join(problems))
