"""Reasons an SDR reads: today's (top 3 log-odds contributions of each sign, phrases from
column names) against the new ones (effects in percentage points from 1 pp on, phrases
from the spec's labels), side by side on the same leads and models.

Usage: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/reasons.py [--train-rows 12000]
       [--leads 300] [--seed 7]

Trains the demo data set's SQL models at arrival and after qualification (the trainer's
recipe, LightGBM on one thread), scores ``--leads`` later demo leads at both moments and
measures, per reason set: reasons shown, the share moving the probability by less than
1 pp (today's as the issue measured it, linearised |contribution| x p(1-p); the new ones
by their own effect, and linearised too), the share "not given", phrases naming a raw
column, and how often a lead's top reason is one of its channel's two strongest true
drivers the model can see (the generator's ground truth). Runs per moment are repeated
``--repeats`` times for the timing (medians). Writes the table to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from report import markdown_table, write_section

from features.dataset import prepare_frame
from features.demo import generate_leads
from features.reason import Reason
from features.spec import KnownAt, load_spec
from training.model import LeadModel
from training.reasons import Wording
from training.trainer import TrainOptions, train_model

TOP_K = 3


@dataclass(frozen=True)
class Scored:
    """One lead's reasons at one moment, with what the measures need."""

    channel: str
    probability: float
    reasons: list[Reason]
    baseline: float | None = None


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def today_reasons(model: LeadModel, frame: pd.DataFrame) -> list[Scored]:
    """The reasons as the service made them before: top 3 of each sign by contribution,
    words from the featurizer's column-name phrases."""
    matrix = model.transform(frame)
    probability = model.probabilities(matrix)
    fields, contrib = model.source_contributions(matrix)
    records = frame.to_dict(orient="records")
    out = []
    for i, record in enumerate(records):
        row = contrib[i]
        order = np.argsort(-row, kind="stable")
        positive = [j for j in order if row[j] > 1e-9][:TOP_K]
        negative = [j for j in order[::-1] if row[j] < -1e-9][:TOP_K]
        reasons = [
            Reason(fields[j], model.featurizer.describe(fields[j], record), float(row[j]))
            for j in [*positive, *negative]
        ]
        out.append(Scored(str(record["channel"]), float(probability[i]), reasons))
    return out


def new_reasons(model: LeadModel, frame: pd.DataFrame, locale: str) -> list[Scored]:
    scored = model.score(frame, Wording(top_k=TOP_K, locale=locale, timezone="Europe/Moscow"))
    return [
        Scored(str(channel), s.probability, s.reasons, s.baseline)
        for channel, s in zip(frame["channel"], scored, strict=True)
    ]


def _raw_name(phrase: str, columns: Sequence[str]) -> bool:
    """A phrase naming a column: an identifier with '_' anywhere, or 'column =' / 'column
    not given' at its start."""
    for column in columns:
        if "_" in column and re.search(rf"(?<![\w]){re.escape(column)}(?![\w])", phrase):
            return True
        if re.match(rf"{re.escape(column)} (=|not given)", phrase):
            return True
    return False


def _not_given(reason: Reason) -> bool:
    """A reason about an absent value: "<field> not given" (today's words, the issue's
    count), or the new reasons' ``missing`` flag ("not asked yet", "no phone number: ...")."""
    return reason.missing or "not given" in reason.phrase


def _absent(reason: Reason) -> bool:
    """Any reason about an absent value, also today's "no phone" / "no e-mail" / "no message"."""
    return _not_given(reason) or reason.phrase.startswith("no ")


def _true_drivers(truth: Mapping[str, Any], fields: set[str]) -> dict[str, set[str]]:
    """Each channel's two strongest true drivers among the fields the model sees."""
    out = {}
    for channel, entry in truth["channels"].items():
        seen = [d["feature"] for d in entry["drivers"] if d["feature"] in fields]
        out[channel] = set(seen[:2])
    return out


def measure(
    leads: list[Scored], columns: Sequence[str], drivers: Mapping[str, set[str]]
) -> dict[str, float | int]:
    reasons = [(lead, r) for lead in leads for r in lead.reasons]
    linear = [
        abs(r.contribution) * lead.probability * (1 - lead.probability) * 100 for lead, r in reasons
    ]
    own = [abs(r.effect_pp) if r.effect_pp is not None else np.nan for _lead, r in reasons]
    agree = []
    for lead in leads:
        if not lead.reasons:  # nothing shown: no top reason to agree
            agree.append(False)
            continue
        key = (
            (lambda r: abs(r.effect_pp))
            if lead.reasons[0].effect_pp is not None
            else (lambda r: abs(r.contribution))
        )
        top = max(lead.reasons, key=key)
        agree.append(top.field in drivers.get(lead.channel, set()))
    n = max(len(reasons), 1)
    return {
        "reasons shown": len(reasons),
        "per lead": len(reasons) / max(len(leads), 1),
        "< 1 pp (linearised)": sum(v < 1.0 for v in linear) / n,
        "< 1 pp (own effect)": float(np.nanmean([v < 1.0 for v in own]))
        if own and not np.isnan(own).all()
        else float("nan"),
        "not given": sum(_not_given(r) for _lead, r in reasons) / n,
        "any absent value": sum(_absent(r) for _lead, r in reasons) / n,
        "raw column names": sum(_raw_name(r.phrase, columns) for _lead, r in reasons),
        "top = true driver": float(np.mean(agree)) if agree else float("nan"),
    }


def linear_gap(leads: list[Scored]) -> dict[str, float | int]:
    """Why a shown reason (own effect >= 1 pp) is under 1 pp by the linearised measure:
    the two differ only in the slope that turns a log-odds contribution into points, the
    tangent p(1-p) at the lead's probability against the secant (p - p0) / sum of
    contributions from the baseline p0 to p. Counts the reasons under 1 pp linearised,
    the share of them on leads below the baseline (where the logistic curve is flatter at
    p than between p0 and p), the median |p - p0| of their leads against the other
    reasons', and the median ratio of the reason's effect to its linearised value."""
    small, rest, ratios, small_p, below = [], [], [], [], 0
    for lead in leads:
        p, p0 = lead.probability, lead.baseline
        for r in lead.reasons:
            if p0 is None or r.effect_pp is None:
                continue
            linear = abs(r.contribution) * p * (1 - p) * 100
            if linear < 1.0:
                small.append(abs(p - p0) * 100)
                small_p.append(p * 100)
                below += p < p0
                ratios.append(abs(r.effect_pp) / max(linear, 1e-9))
            else:
                rest.append(abs(p - p0) * 100)
    return {
        "under 1 pp linearised": len(small),
        "on leads below p0": below / max(len(small), 1),
        "median p of those (%)": float(np.median(small_p)) if small_p else float("nan"),
        "median abs(p - p0), pp: those": float(np.median(small)) if small else float("nan"),
        "median abs(p - p0), pp: other reasons": float(np.median(rest)) if rest else float("nan"),
        "median effect / linearised": float(np.median(ratios)) if ratios else float("nan"),
    }


def sum_gap(model: LeadModel, frame: pd.DataFrame) -> float:
    """The largest |sum of a lead's effects - 100 (p - p0)| in pp (0 when exact)."""
    probability, baseline, effects = model.effects(model.transform(frame))
    return float(np.max(np.abs(effects.sum(axis=1) - 100 * (probability - baseline))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-rows", type=int, default=12_000)
    parser.add_argument("--leads", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    load = os.getloadavg()
    _log(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

    spec = load_spec("demo")
    frame, truth = generate_leads(n=args.train_rows + args.leads, seed=args.seed)
    frame = frame.sort_values("arrived_at").reset_index(drop=True)
    train, test = frame.iloc[: args.train_rows], frame.iloc[args.train_rows :]
    data = prepare_frame(spec, train, source=f"demo(n={args.train_rows}, seed={args.seed})")
    columns = sorted({c for f in spec.features for c in f.input_columns})

    rows: list[dict[str, Any]] = []
    timing: list[dict[str, Any]] = []
    gaps: list[dict[str, Any]] = []
    for known_at in (KnownAt.ARRIVAL, KnownAt.QUALIFIED):
        _log(f"training the {known_at.value} SQL model on {len(train)} leads (1 thread)")
        options = TrainOptions(known_at=known_at, params={"num_threads": 1}, refit=False)
        model = train_model(data, options).model
        drivers = _true_drivers(truth, set(model.featurizer.feature_sources_))
        runs = {
            "today": lambda m=model: today_reasons(m, test),
            "new, en": lambda m=model: new_reasons(m, test, "en"),
            "new, ru": lambda m=model: new_reasons(m, test, "ru"),
        }
        for name, run in runs.items():
            seconds = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                leads = run()
                seconds.append(time.perf_counter() - start)
            rows.append(
                {"known_at": known_at.value, "reasons": name, **measure(leads, columns, drivers)}
            )
            timing.append(
                {
                    "known_at": known_at.value,
                    "reasons": name,
                    "ms per lead": 1000 * statistics.median(seconds) / len(test),
                }
            )
            if name == "new, en":
                gap = {"known_at": known_at.value, **linear_gap(leads)}
                gaps.append({**gap, "max abs(sum of effects - (p - p0)), pp": sum_gap(model, test)})
        _log(f"{known_at.value}: model {model.kind}, {len(test)} leads scored")

    table = pd.DataFrame(rows)
    both = pd.DataFrame(
        [
            {"known_at": "both", "reasons": name, **measure_totals(table[table["reasons"] == name])}
            for name in ("today", "new, en", "new, ru")
        ]
    )
    table = pd.concat([table, both], ignore_index=True)
    times = pd.DataFrame(timing)
    why = pd.DataFrame(gaps)
    print(table.to_string(index=False))
    print(times.to_string(index=False))
    print(why.to_string(index=False))
    both_rows = table[table["known_at"] == "both"].set_index("reasons")
    own_share = float(both_rows.loc["new, en", "< 1 pp (own effect)"])
    linear_share = float(both_rows.loc["new, en", "< 1 pp (linearised)"])
    body = (
        f"`benchmarks/reasons.py --train-rows {args.train_rows} --leads {args.leads} --seed "
        f"{args.seed}`: the demo SQL models (trainer's recipe, LightGBM on 1 thread) score "
        f"the {args.leads} leads that arrived after the training ones, at arrival and after "
        "qualification; the same models give today's reasons (top 3 log-odds "
        "contributions of each sign, phrases from column names) and the new ones (effects in "
        "percentage points, shown from 1 pp, phrases from the spec's labels). Shares are of "
        "the reasons shown; 'not given' counts today's '<field> not given' phrases and the "
        "new reasons about a missing answer ('not asked yet', 'no phone number: ask for "
        "one'), 'any absent value' also today's 'no phone' / 'no e-mail' / 'no message'. "
        "'< 1 pp (linearised)' is the issue's measure, |contribution| x p(1-p); "
        "'(own effect)' is the reason's effect_pp. 'top = true driver': share of leads "
        "whose strongest reason is one of its channel's two strongest true drivers the model "
        "can see (generator ground truth; a lead with no reason shown counts as not "
        "agreeing). Load average at start: "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}.\n\n"
        f"{markdown_table(table, digits=3)}\n\n"
        f"**The issue's target (<= 5% of shown reasons below 1 pp), both figures**: by the "
        f"reasons' own effect (effect_pp, the secant scaling of docs/reasons.md, which the "
        f"1 pp threshold is applied to) {own_share:.1%} of the new reasons shown are below "
        f"1 pp; by the issue's linearised measure |contribution| x p(1-p) {linear_share:.1%} "
        "are. The two differ only in the slope from log-odds to points: the tangent p(1-p) "
        "at the lead's probability, or the secant (p - p0) / sum of contributions from the "
        "baseline p0 (an average lead's probability) to p, which makes a lead's effects add "
        "up exactly to p - p0 (checked below: the largest gap over the leads). Below the "
        "baseline the logistic curve is flatter at p than between p0 and p, so there the "
        "tangent makes a reason smaller than its effect; the reasons under 1 pp linearised "
        "(new, en) are on such leads:\n\n"
        f"{markdown_table(why, digits=3)}\n\n"
        "Time to make the reasons (median of "
        f"{args.repeats}):\n\n{markdown_table(times, digits=3)}"
    )
    write_section("reasons", "Reasons: percentage points and labels (issue 17)", body)
    return 0


def measure_totals(part: pd.DataFrame) -> dict[str, float | int]:
    """Both moments together, weighted by the reasons (shares) or the leads (agreement)."""
    count = part["reasons shown"].to_numpy()
    leads = count / part["per lead"].to_numpy()
    out: dict[str, float | int] = {
        "reasons shown": int(count.sum()),
        "per lead": float(count.sum() / leads.sum()),
    }
    for column in ("< 1 pp (linearised)", "< 1 pp (own effect)", "not given", "any absent value"):
        values = part[column].to_numpy(dtype=float)
        out[column] = (
            float(np.sum(values * count) / count.sum())
            if not np.isnan(values).any()
            else float("nan")
        )
    out["raw column names"] = int(part["raw column names"].sum())
    out["top = true driver"] = float(
        np.sum(part["top = true driver"].to_numpy() * leads) / leads.sum()
    )
    return out


if __name__ == "__main__":
    sys.exit(main())
