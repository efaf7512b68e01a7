"""The API's error texts in the caller's language: message ids, their stable ``type``, and
the translation of an English error text by the template it was made from.

Every human text of an error answer is an English message id of the ``serving`` catalog
(``serving/catalogs/serving.<locale>.po``) with ``{placeholders}``; the service raises it
formatted in English (``NO_LEAD.format(...)``), and the error handlers put it into the
request's language by matching it against the known templates (:func:`translate`). The
same matching covers texts made by other layers (the store's refusals, the funnel, the
lead validators, the questionnaire), which the API does not own. A placeholder's value is
itself translated when it is a known text (e.g. a JSON syntax error inside the 422's
message). Pydantic's own messages are translated by their error ``type`` and ``ctx``
(:func:`pydantic_message`); an unknown type keeps pydantic's English text. Where a
pydantic error travels as text (a CRM webhook whose body makes no valid lead),
:func:`pydantic_text` says it with the type's template, which the matching then knows.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from fastapi import Request

from features.i18n import DEFAULT_LOCALE, LOCALES, N_, Translator, resolve_locale, translator

#: The gettext domain of the serving layer (shared with the pages).
DOMAIN = "serving"
PACKAGE = "serving"


# ----------------------------------------------------------------- the service's own texts

STARTING = N_("the service is starting or stopping; try again shortly")
TRY_AGAIN = N_("{what}; try again in {seconds} s")
TOO_MANY_BAD_KEYS = N_("too many requests with unknown API keys from this address")
OVER_INTAKE = N_("the API key '{name}' is over its lead intake limit")
UNKNOWN_KEY = N_("unknown API key")
MISSING_KEY = N_(
    "missing API key: send it in the X-API-Key header (or as 'Authorization: Bearer <key>')"
)
ROLE_REFUSED = N_("role '{role}' may not {action}; needs one of: {allowed}")
INVALID_REQUEST = N_("invalid request: {problems}")
AND_MORE = N_("(and {more} more)")
NOT_JSON_BARE = N_("not valid JSON")
NOT_JSON = N_("the body is not valid JSON ({reason})")
NOT_JSON_AT = N_("the body is not valid JSON ({reason} at character {position})")
STORE_UNAVAILABLE = N_("the lead store is unavailable; try again in {seconds} s")
INTERNAL = N_("internal error; the service logged the details")
TOO_LARGE = N_("request body too large: the limit is {limit} bytes")
WON_NEEDS_DEAL = N_("a won lead needs deal_value: {{amount, currency}}")
DEAL_ONLY_WON = N_("deal_value is only recorded for a won lead")
NOTHING_TO_CLAIM = N_("nothing to claim: no unclaimed lead is waiting in the queue")
OUT_OF_UTC = N_("the time is out of range once converted to UTC")
LATER_THAN_FROM = N_("must be later than arrived_from")
NO_CONNECTOR = N_("no connector '{name}' is configured (see LEADSCORE_CONNECTORS_FILE)")
WEBHOOK_REFUSED = N_("webhook refused: {reason}")
EXPECTED_JSON = N_("expected JSON: {reason}")
TOO_MANY_ROWS = N_("at most {limit} rows per request; got {count}")
CSV_NO_ROWS = N_("the CSV file has a header but no rows")
CSV_UNREADABLE = N_("cannot read the CSV upload: {reason}")

# the CSV reader and the record schema (serving/api/records.py)
CSV_NOT_UTF8 = N_("the file is not UTF-8 text (byte {byte})")
CSV_EMPTY = N_("the file is empty; expected a header line with record columns")
CSV_NUL = N_("line {line} contains the NUL character (\\u0000)")
CSV_REPEATED = N_("the header repeats column(s): {columns}")
CSV_TOO_MANY_VALUES = N_("line {line} has more values than the header has columns")
CSV_HEADER_TOO_LONG = N_("the header has a value longer than {limit} characters")
CSV_ROW_TOO_LONG = N_("row {row} (line {line}) has a value longer than {limit} characters")
CSV_HEADER_BROKEN = N_("the header cannot be read as CSV ({reason})")
CSV_ROW_BROKEN = N_("row {row} (line {line}) cannot be read as CSV ({reason})")
RECORD_NUMBER = N_("expected a number")
RECORD_NUMBER_RANGE = N_("expected a finite number from {low} to {high}")
RECORD_BOOLEAN = N_("expected true/false (also yes/no, 1/0, да/нет)")
RECORD_TIME = N_("expected an ISO 8601 timestamp, e.g. 2026-03-01T10:15:00Z")
RECORD_SINGLE = N_("expected a single value, not an object or a list")

#: The templates an error text may come from, each with the stable ``type`` of an
#: ``errors`` entry whose message it is (texts of other layers included).
TEMPLATES: tuple[tuple[str, str], ...] = (
    (STARTING, "starting"),
    (TRY_AGAIN, "rate_limited"),
    (TOO_MANY_BAD_KEYS, "rate_limited"),
    (OVER_INTAKE, "rate_limited"),
    (UNKNOWN_KEY, "unknown_api_key"),
    (MISSING_KEY, "missing_api_key"),
    (ROLE_REFUSED, "forbidden"),
    (NOT_JSON_BARE, "json_invalid"),
    (NOT_JSON, "json_invalid"),
    (NOT_JSON_AT, "json_invalid"),
    (STORE_UNAVAILABLE, "store_unavailable"),
    (INTERNAL, "internal"),
    (TOO_LARGE, "too_large"),
    (WON_NEEDS_DEAL, "missing"),
    (DEAL_ONLY_WON, "not_allowed"),
    (NOTHING_TO_CLAIM, "queue_empty"),
    (OUT_OF_UTC, "datetime_out_of_range"),
    (LATER_THAN_FROM, "bad_range"),
    (NO_CONNECTOR, "unknown_connector"),
    (WEBHOOK_REFUSED, "webhook_refused"),
    (EXPECTED_JSON, "json_invalid"),
    (TOO_MANY_ROWS, "too_many_rows"),
    (CSV_NO_ROWS, "empty_csv"),
    (CSV_UNREADABLE, "csv_unreadable"),
    (CSV_NOT_UTF8, "csv_unreadable"),
    (CSV_EMPTY, "csv_unreadable"),
    (CSV_NUL, "nul_character"),
    (CSV_REPEATED, "duplicate_column"),
    (CSV_TOO_MANY_VALUES, "csv_unreadable"),
    (CSV_HEADER_TOO_LONG, "csv_unreadable"),
    (CSV_ROW_TOO_LONG, "csv_unreadable"),
    (CSV_HEADER_BROKEN, "csv_unreadable"),
    (CSV_ROW_BROKEN, "csv_unreadable"),
    (RECORD_NUMBER, "number"),
    (RECORD_NUMBER_RANGE, "finite_number"),
    (RECORD_BOOLEAN, "boolean"),
    (RECORD_TIME, "timestamp"),
    (RECORD_SINGLE, "single_value"),
    # the channel report (training/channels: leads.py, report.py, funnel.py)
    (N_("period '{period}': the last month is before the first"), "bad_period"),
    (
        N_("period '{period}': the leads have no arrival time to select a period by"),
        "bad_period",
    ),
    (
        N_("period '{period}': expected a month YYYY-MM or a range YYYY-MM..YYYY-MM"),
        "bad_period",
    ),
    (N_("no leads arrived in the period asked for"), "no_leads"),
    (N_("no leads arrived in the period '{period}'"), "no_leads"),
    (
        N_("stage_reached holds unknown stages {unknown}; expected one of {expected}"),
        "unknown_stage",
    ),
    (N_("the leads have no column {columns} (needed for the report)"), "missing_column"),
    (
        N_("the model predicts '{target}', which is not a stage of these leads ({stages})"),
        "unknown_stage",
    ),
    (N_("target '{target}' is not a funnel stage ({stages})"), "unknown_stage"),
    # the CRM connectors' refusals and bad payloads (serving/connectors)
    (N_("the secret in the webhook URL is not this service's amoCRM secret"), "webhook_refused"),
    (
        N_("account[subdomain] is {given}, not the configured account {configured}"),
        "webhook_refused",
    ),
    (N_("no auth[application_token] in the event"), "webhook_refused"),
    (N_("auth[application_token] is not this service's Bitrix24 token"), "webhook_refused"),
    (N_("auth[domain] is {given}, not the configured {configured}"), "webhook_refused"),
    (N_("no X-Webhook-Secret header"), "webhook_refused"),
    (N_("X-Webhook-Secret is not the secret of the webhook '{name}'"), "webhook_refused"),
    (
        N_("no X-HubSpot-Signature-v3 / X-HubSpot-Request-Timestamp header"),
        "webhook_refused",
    ),
    (N_("X-HubSpot-Request-Timestamp is not a time in milliseconds"), "webhook_refused"),
    (
        N_(
            "X-HubSpot-Request-Timestamp is {seconds} s from now (at most 300 s): "
            "a stale or replayed request"
        ),
        "webhook_refused",
    ),
    (
        N_("X-HubSpot-Signature-v3 does not match (wrong client secret or URL?)"),
        "webhook_refused",
    ),
    (N_("expected UTF-8 form data"), "bad_payload"),
    (N_("expected a numeric amoCRM id, got {value}"), "bad_payload"),
    (N_("expected a numeric Bitrix24 lead id, got {value}"), "bad_payload"),
    (N_("expected the id of the lead (text or number)"), "bad_payload"),
    (N_("expected a JSON object"), "bad_payload"),
    (N_("expected a JSON array of HubSpot events"), "bad_payload"),
    (N_("expected an event object"), "bad_payload"),
    (N_("expected an integer"), "bad_payload"),
    # serving/api/inputs.py: the body and parameter rules, event times
    (N_("text must not contain the NUL character (\\u0000)"), "nul_character"),
    (N_("a key text must not contain the NUL character (\\u0000)"), "nul_character"),
    (N_("expected a finite number"), "finite_number"),
    (N_("nested too deeply: at most {depth} levels"), "too_deep"),
    (N_("the key '{key}' is given more than once"), "duplicate_key"),
    (N_("a number is too long to read ({reason})"), "number_too_long"),
    (N_("give a timezone, e.g. 2026-03-02T10:00:00Z"), "timezone_required"),
    (N_("expected a time from {earliest} on"), "too_early"),
    (
        N_("expected a time no later than {latest} (now plus the allowed clock skew)"),
        "too_late",
    ),
    # the store's refusals (serving/store/leads.py, listing.py)
    (N_("no lead {lead}"), "unknown_lead"),
    (N_("lead {lead} is closed (status '{status}')"), "lead_closed"),
    (N_("lead {lead} is not waiting in the queue (status '{status}')"), "not_in_queue"),
    (N_("lead {lead} is already claimed by '{holder}'"), "already_claimed"),
    (N_("lead {lead} is not claimed by anyone"), "not_claimed"),
    (N_("lead {lead} is claimed by '{holder}', not by you ('{you}')"), "claimed_by_other"),
    (
        N_("the change is dated {at}, before the lead's last recorded change at {last}"),
        "before_last_change",
    ),
    (N_("not a cursor from a previous page's next_cursor"), "invalid_cursor"),
    # the funnel (features/funnel.py)
    (
        N_("cannot move a lead from '{current}' to '{target}'; allowed: {allowed}"),
        "transition_refused",
    ),
    (N_("none: the lead is closed"), "lead_closed"),
    # the lead's validators (features/lead.py) and the questionnaire (features/questionnaire.py)
    (N_("expected an e-mail address like name@company.com"), "email"),
    (N_("budget.amount needs budget.currency (ISO code such as RUB)"), "missing"),
    (N_("give budget.amount with budget.currency, or budget.bracket"), "missing"),
    (N_("status_history must be in time order"), "time_order"),
    (N_("unknown service; expected {known}"), "unknown_service"),
    (
        N_("not a question for service '{service}'; expected one of: {questions}"),
        "unknown_question",
    ),
    # Python's JSON syntax errors, named inside the 422 for a broken body
    (N_("Expecting value"), "json_invalid"),
    (N_("Expecting property name enclosed in double quotes"), "json_invalid"),
    (N_("Expecting ',' delimiter"), "json_invalid"),
    (N_("Expecting ':' delimiter"), "json_invalid"),
    (N_("Unterminated string starting at"), "json_invalid"),
    (N_("Extra data"), "json_invalid"),
    (N_("Invalid control character at"), "json_invalid"),
    # Starlette's own answers
    (N_("Not Found"), "not_found"),
    (N_("Method Not Allowed"), "method_not_allowed"),
)

# ----------------------------------------------------------------- pydantic's messages

_DATETIME = N_("Input should be a valid datetime, e.g. 2026-03-02T10:00:00Z")
_DATE = N_("Input should be a valid date, e.g. 2026-03-02")
_OBJECT = N_("Input should be an object")
_INTEGER = N_("Input should be a valid integer")
_NUMBER = N_("Input should be a valid number")
_BOOLEAN = N_("Input should be a valid boolean")
_CHOICE = N_("Input should be {expected}")

#: Pydantic's error types as message ids (placeholders from the error's ``ctx``).
PYDANTIC: dict[str, str] = {
    "missing": N_("Field required"),
    "extra_forbidden": N_("Extra inputs are not permitted"),
    "string_type": N_("Input should be a valid string"),
    "string_too_short": N_("String should have at least {min_length} characters"),
    "string_too_long": N_("String should have at most {max_length} characters"),
    "string_pattern_mismatch": N_("String should match pattern '{pattern}'"),
    "greater_than": N_("Input should be greater than {gt}"),
    "greater_than_equal": N_("Input should be greater than or equal to {ge}"),
    "less_than": N_("Input should be less than {lt}"),
    "less_than_equal": N_("Input should be less than or equal to {le}"),
    "finite_number": N_("Input should be a finite number"),
    "int_type": _INTEGER,
    "int_parsing": _INTEGER,
    "int_parsing_size": _INTEGER,
    "int_from_float": N_("Input should be a valid integer, got a number with a fractional part"),
    "float_type": _NUMBER,
    "float_parsing": _NUMBER,
    "decimal_parsing": _NUMBER,
    "decimal_type": _NUMBER,
    "bool_type": _BOOLEAN,
    "bool_parsing": _BOOLEAN,
    "literal_error": _CHOICE,
    "enum": _CHOICE,
    "datetime_type": _DATETIME,
    "datetime_parsing": _DATETIME,
    "datetime_from_date_parsing": _DATETIME,
    "date_type": _DATE,
    "date_parsing": _DATE,
    "date_from_datetime_parsing": _DATE,
    "date_from_datetime_inexact": _DATE,
    "dict_type": _OBJECT,
    "model_type": _OBJECT,
    "model_attributes_type": _OBJECT,
    "list_type": N_("Input should be a valid list"),
    "too_short": N_("List should have at least {min_length} items, not {actual_length}"),
    "too_long": N_("List should have at most {max_length} items, not {actual_length}"),
    "uuid_parsing": N_("Input should be a valid UUID"),
}

#: How pydantic joins the last two of ``expected`` choices ("'a', 'b' or 'c'").
_OR = N_("{choices} or {last}")


def serving_words(locale: str | None) -> Translator:
    """The serving layer's translator (API answers and pages) in ``locale`` (a supported
    language; else English)."""
    return translator(locale, domain=DOMAIN, package=PACKAGE)


def error_locale(request: Request) -> str:
    """The language of an error answer: Accept-Language, else ``LEADSCORE_LOCALE`` (English
    before the service has started)."""
    return locale_of(request.headers.get("accept-language"), request.app)


def installation_locale(app: Any) -> str:
    """``LEADSCORE_LOCALE`` of the running service (English before it has started)."""
    services = getattr(getattr(app, "state", None), "services", None)
    installed = getattr(getattr(services, "settings", None), "locale", None)
    return installed if installed in LOCALES else DEFAULT_LOCALE


def locale_of(accept_language: str | None, app: Any) -> str:
    """The supported language of an ``Accept-Language`` value, else the installation's."""
    return resolve_locale(accept_language, installation_locale(app))


@lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[str, str, re.Pattern[str]], ...]:
    """(template, type, its regex), the most specific (longest literal text) first; the
    templates of pydantic's types too, each under its first type."""
    pydantic = {template: kind for kind, template in reversed(PYDANTIC.items())}
    built = []
    for template, kind in (*TEMPLATES, *pydantic.items()):
        parts, seen, literal = [], set(), 0
        for text, name, _spec, _conversion in string.Formatter().parse(template):
            parts.append(re.escape(text))
            literal += len(text)
            if name is not None:
                parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
                seen.add(name)
        built.append((-literal, template, kind, re.compile("".join(parts), re.DOTALL)))
    return tuple((template, kind, pattern) for _n, template, kind, pattern in sorted(built))


def _match(text: str) -> tuple[str, str, dict[str, str]] | None:
    for template, kind, pattern in _patterns():
        found = pattern.fullmatch(text)
        if found is not None:
            return template, kind, found.groupdict()
    return None


def text_type(text: str) -> str | None:
    """The stable ``type`` of an error text made from a known template."""
    found = _match(text)
    return found[1] if found else None


def translate(text: str, locale: str) -> str:
    """``text`` (English, made from a known template) in ``locale``; else as it is."""
    if locale == DEFAULT_LOCALE:
        return text
    found = _match(text)
    if found is None:
        return text
    template, _kind, values = found
    translated = {name: translate(value, locale) for name, value in values.items()}
    return serving_words(locale).gettext(template).format(**translated)


def _choices(expected: str, locale: str) -> str:
    """Pydantic's "'a', 'b' or 'c'" with the language's "or"."""
    head, sep, last = expected.rpartition(" or ")
    if not sep:
        return expected
    return serving_words(locale).gettext(_OR).format(choices=head, last=last)


def pydantic_text(error: Mapping[str, Any]) -> str:
    """One pydantic error (an entry of ``ValidationError.errors()``) as English text: its
    type's template filled from its ``ctx`` (so :func:`translate` knows it), a custom
    ``value_error`` text without pydantic's prefix; pydantic's own text for another type."""
    message = str(error.get("msg", ""))
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    template = PYDANTIC.get(str(error.get("type")))
    if template is None:
        return message
    values = {name: str(value) for name, value in (error.get("ctx") or {}).items()}
    try:
        return template.format(**values)
    except (KeyError, IndexError):
        return message


def pydantic_message(error_type: str, ctx: dict[str, Any], english: str, locale: str) -> str:
    """Pydantic's message of ``error_type`` in ``locale`` (``english`` kept in English, or
    when the type is not known); a custom ``value_error`` text by its template."""
    if locale == DEFAULT_LOCALE:
        return english
    if error_type in ("value_error", "assertion_error"):
        return translate(english, locale)
    template = PYDANTIC.get(error_type)
    if template is None:
        return english
    values = {name: str(value) for name, value in ctx.items()}
    if "expected" in values:
        values["expected"] = _choices(values["expected"], locale)
    try:
        return serving_words(locale).gettext(template).format(**values)
    except (KeyError, IndexError):
        return english
