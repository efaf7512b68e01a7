"""Currencies and dated rates files: the ISO 4217 code type, a rate, and ``read_rates``.

A money feature converts amounts into its ``base_currency`` with a rates table, given inline
in the spec (``rates``) or as a dated rates file (``rates_file``, YAML)::

    date: 2026-11-30
    base: RUB
    rates: {USD: 90.0, EUR: 98.0}

:mod:`features.spec` reads a spec's rates files with :func:`read_rates`.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

from babel.numbers import is_currency
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)


def currency_code(code: str) -> str:
    """``code`` when it is an ISO 4217 currency code (upper case) known to Babel's CLDR."""
    if len(code) != 3 or not code.isalpha() or not code.isupper() or not is_currency(code):
        raise ValueError(f"'{code}' is not an ISO 4217 currency code (e.g. RUB, USD, EUR)")
    return code


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


#: An ISO 4217 code; surrounding spaces and lower case are forgiven (" usd" -> "USD").
CurrencyCode = Annotated[str, BeforeValidator(_upper), AfterValidator(currency_code)]
#: Units of the base currency per unit of another: a finite number above zero.
Rate = Annotated[float, Field(gt=0, allow_inf_nan=False)]
_Date = date


class Rates(BaseModel):
    """A dated rates file: ``{date: 2026-11-30, base: RUB, rates: {USD: 90.0, EUR: 98.0}}``,
    units of ``base`` per unit of each currency on ``date``. The base's own rate is 1 (it may
    be left out)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date: _Date = Field(description="the day the rates are of (shown where an amount is converted)")
    base: CurrencyCode
    rates: dict[CurrencyCode, Rate] = Field(min_length=1)

    @model_validator(mode="after")
    def _base_is_one(self) -> Rates:
        own = self.rates.get(self.base)
        if own is not None and own != 1.0:
            raise ValueError(
                f"rates.{self.base}: the base currency's own rate must be 1, not {own}"
            )
        return self

    def table(self) -> dict[str, float]:
        """Currency -> units of base per unit, the base first (at 1)."""
        return {self.base: 1.0, **{c: r for c, r in self.rates.items() if c != self.base}}


class RatesError(ValueError):
    """A rates file that cannot be used; the message names the file and every bad key."""


def read_rates(path: Path) -> Rates:
    """Read and validate a rates file; every problem names its key (``rates.USD: ...``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RatesError(f"{path}: cannot read the rates file: {exc.strerror or exc}") from exc
    raw = yaml_document(text, path, RatesError)
    if not isinstance(raw, dict):
        raise RatesError(f"{path}: expected a mapping {{date, base, rates}} at the top level")
    try:
        return Rates.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or '(file)'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise RatesError(f"{path}: invalid rates file: " + "; ".join(problems)) from exc


def yaml_document(text: str, path: Path, error: type[ValueError]) -> Any:
    """The YAML document ``text`` of ``path``; invalid YAML is ``error`` naming the file."""
    import yaml  # here, not at the top: the languages (features.i18n) import this module,
    # and the command line's `--help` should not load a YAML parser

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from exc
