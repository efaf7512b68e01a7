"""A query value the pages accept only from a fixed set (a picker's, a filter's choices)."""

from __future__ import annotations

from collections.abc import Sequence

from serving.web.errors import PageError


def check_choice(value: str | None, choices: Sequence[str], title: str, message: str) -> None:
    """Nothing when ``value`` is empty or one of ``choices``; else the 422 page ``title``
    whose ``message`` (a message id) lists the ``{choices}``."""
    if value and value not in choices:
        raise PageError(422, title, message, choices=", ".join(choices))
