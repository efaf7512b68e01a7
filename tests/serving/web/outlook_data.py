"""A real outlook that says "likely to convert within 7 days" for some leads.

On the demo data few leads' P(SQL within 7 days) reach the badge's 0.25 (the top is about
0.4), and which ones depends on the fit. :func:`fast_referrals_outlook` fits the real outlook
on demo leads whose referrals all reach SQL (its first status, ``discussing``) a day after arrival,
keeping their later moves: a referral is then likely within 7 days, other channels are not.
"""

from __future__ import annotations

import json
from datetime import timedelta
from functools import cache

import pandas as pd

from features.dataset import prepare_frame
from features.demo import generate_leads
from features.funnel import SUCCESS_PATH, Stage, Status
from features.spec import load_spec
from training.outlook import HISTORY_COLUMN, Outlook, OutlookOptions, fit_outlook

#: The channel whose leads reach SQL within a day.
FAST_CHANNEL = "referral"
#: A referral's source as the demo's referrals have it (the model tells them by these).
FAST_SOURCE = {"channel": FAST_CHANNEL, "utm_source": "client_referral", "utm_medium": "referral"}
_SQL_STATUS = next(status for status in SUCCESS_PATH if status.stage is Stage.SQL)
_AFTER_SQL = {s.value for s in Status if (stage := s.stage) and stage.rank > Stage.SQL.rank}


def _fast_history(arrived: pd.Timestamp, history: str) -> str:
    """Arrival, SQL a day later, then the original moves past SQL that came after it."""
    sql_at = arrived + timedelta(days=1)
    later = [
        change
        for change in json.loads(history)
        if change["status"] in _AFTER_SQL and pd.Timestamp(change["at"]) > sql_at
    ]
    moves = [
        {"status": Status.NEW.value, "at": arrived.isoformat()},
        {"status": _SQL_STATUS.value, "at": sql_at.isoformat()},
        *later,
    ]
    return json.dumps(moves)


@cache
def fast_referrals_outlook() -> Outlook:
    frame, _ = generate_leads(n=4_000, seed=7)
    fast = frame["channel"] == FAST_CHANNEL
    frame.loc[fast, HISTORY_COLUMN] = [
        _fast_history(arrived, history)
        for arrived, history in zip(
            frame.loc[fast, "arrived_at"], frame.loc[fast, HISTORY_COLUMN], strict=True
        )
    ]
    data = prepare_frame(load_spec("demo"), frame, source="demo, fast referrals")
    return fit_outlook(data, frame, OutlookOptions(known_at="arrival"))
