"""Monthly retraining end to end: the real service, the real lead store and MLflow registry.

Nine months of demo leads (January to September 2026) reach the lead store: most are
imported with their histories through the store, a sample of them goes through the API
(posted, qualified and moved along the funnel to their outcome). Then `leadscore retrain`
runs month after month (``--as-of``): cold start, a first promotion, a second promotion
when the gates pass, a no-op repeat, a challenger trained on shuffled labels and one on
data whose e-mail field stopped arriving (both refused, with the reason printed), a
rollback the running API follows, a manual promotion and the drift report.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert
from typer.testing import CliRunner

from features.dataset import prepare_frame
from features.demo import frame_row_to_lead, generate_leads
from features.funnel import Status, highest_stage
from features.lead import Lead, lead_to_record
from features.questionnaire import load_catalog
from features.spec import load_spec
from serving.api.workflows import jsonable
from serving.app import create_app
from serving.cli.main import app as cli
from serving.modelset import MemoryLoader
from serving.settings import ServingSettings
from serving.store.leads import SDR_STATUSES, Store
from serving.store.outcomes import store_frame
from serving.store.tables import LeadRow, QualificationRow, StatusChangeRow
from tests.serving.conftest import API_KEYS, headers, make_lead
from training.registry import PREVIOUS, champion_version
from training.retraining.labels import label_settled

MODEL = "leadscore-arrival-sql"
LEADS = 5400  # 600 a month, January to September 2026
FAST = ["--stage", "arrival", "--target", "sql", "--param", "learning_rate=0.1"]
API_LEADS_PER_MONTH = 12


def _import(store: Store, leads: list[Lead]) -> None:
    """Historical leads straight into the store's tables, as POST /leads would store them
    (flat record, source, history, answers), in bulk: the API path is exercised by the
    leads posted through it; this only keeps the test fast."""
    now = datetime.now(UTC)
    rows, changes, answers = [], [], []
    for lead in leads:
        history = [(c.status, c.at) for c in lead.status_history] or [(Status.NEW, lead.arrived_at)]
        statuses = [status for status, _at in history]
        qualified = lead.bant is not None or lead.questionnaire is not None
        rows.append(
            {
                "external_id": lead.external_id,
                "arrived_at": lead.arrived_at,
                "channel": lead.source.channel,
                "source": lead.source.model_dump(mode="json"),
                "record": jsonable(lead_to_record(lead)),
                "status": statuses[-1].value,
                "stage_reached": highest_stage(statuses).value,
                "deal_value": lead.deal_value.amount if lead.deal_value else None,
                "deal_currency": lead.deal_value.currency if lead.deal_value else None,
                "sla_deadline": lead.arrived_at + timedelta(minutes=30),
                "in_queue": statuses[-1] in SDR_STATUSES and not qualified,
                "qualified_at": now if qualified else None,
                "created_by": "crm-import",
                "created_at": now,
                "updated_at": now,
            }
        )
        changes.append([(status.value, at) for status, at in history])
        answers.append(
            (
                lead.bant.model_dump(mode="json") if lead.bant else {},
                lead.questionnaire.model_dump(mode="json") if lead.questionnaire else None,
            )
            if qualified
            else None
        )
    with store.writing() as session:
        ids = session.scalars(
            insert(LeadRow).returning(LeadRow.id, sort_by_parameter_order=True), rows
        ).all()
        session.execute(
            insert(StatusChangeRow),
            [
                {
                    "lead_id": i,
                    "status": status,
                    "at": at,
                    "changed_by": "crm-import",
                    "recorded_at": now,
                }
                for i, history in zip(ids, changes, strict=True)
                for status, at in history
            ],
        )
        qualifications = [
            {
                "lead_id": i,
                "bant": a[0],
                "questionnaire": a[1],
                "qualified_by": "crm-import",
                "qualified_at": now,
            }
            for i, a in zip(ids, answers, strict=True)
            if a is not None
        ]
        if qualifications:
            session.execute(insert(QualificationRow), qualifications)


def _through_api(client: TestClient, lead: Lead) -> int:
    """Post a lead on arrival, then replay its funnel through the API: statuses with their
    original times, the qualification answers once the SDR has it, the deal when won."""
    arrival = lead.model_copy(
        update={"status_history": [], "bant": None, "questionnaire": None, "deal_value": None}
    )
    posted = client.post("/leads", json=arrival.model_dump(mode="json"), headers=headers())
    assert posted.status_code == 201, posted.text
    lead_id = int(posted.json()["id"])
    answers = {
        "bant": lead.bant.model_dump(mode="json") if lead.bant else {},
        "questionnaire": lead.questionnaire.model_dump(mode="json") if lead.questionnaire else None,
    }
    for change in lead.status_history[1:]:
        body: dict[str, Any] = {"status": change.status.value, "at": change.at.isoformat()}
        if change.status is Status.WON:
            assert lead.deal_value is not None
            body["deal_value"] = lead.deal_value.model_dump(mode="json")
        moved = client.post(f"/leads/{lead_id}/status", json=body, headers=headers("sales"))
        assert moved.status_code == 200, moved.text
        if change.status is Status.SDR_QUALIFYING and (lead.bant or lead.questionnaire):
            qualified = client.put(
                f"/leads/{lead_id}/qualification", json=answers, headers=headers()
            )
            assert qualified.status_code == 200, qualified.text
    return lead_id


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Settings shared by the running app and the CLI (through the environment)."""
    env = {
        "LEADSCORE_DATA_DIR": str(tmp_path / "data"),
        "LEADSCORE_DATABASE_URL": f"sqlite:///{tmp_path / 'leads.db'}",
        "LEADSCORE_MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}",
        "LEADSCORE_API_KEYS": API_KEYS,
        "COLUMNS": "400",  # rich tables in the CLI output stay on one line per row
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = ServingSettings(model_check_seconds=0.2)
    frame, _truth = generate_leads(n=LEADS, seed=21, end=date(2026, 9, 30), months=9)
    month = frame["arrived_at"].dt.month.to_numpy()
    # from August on the CRM stops sending the e-mail address: a field removed from new data
    frame.loc[month >= 8, "email"] = None
    return {"settings": settings, "frame": frame, "month": month, "tmp": tmp_path}


def _retrain(*args: str) -> tuple[int, str, dict[str, Any]]:
    out = Path(args[args.index("--json") + 1]) if "--json" in args else None
    result = CliRunner().invoke(cli, ["retrain", *args], catch_exceptions=False)
    decisions = json.loads(out.read_text()) if out is not None and out.exists() else {}
    return result.exit_code, result.output, decisions


def _served_version(client: TestClient) -> str | None:
    models = client.get("/admin/models", headers=headers("admin")).json()["models"]
    version: str | None = models[MODEL]
    return version


def _posted_version(client: TestClient) -> str:
    body = client.post("/leads", json=make_lead(), headers=headers()).json()
    version: str = body["model"]["version"]
    return version


def test_monthly_retraining_through_the_service(world: dict[str, Any]) -> None:
    settings: ServingSettings = world["settings"]
    frame: pd.DataFrame = world["frame"]
    month: np.ndarray = world["month"]
    tmp: Path = world["tmp"]
    catalog = load_catalog()
    leads = [frame_row_to_lead(row, catalog) for row in frame.to_dict(orient="records")]
    rng = np.random.default_rng(3)
    api_rows = {
        int(i)
        for m in (3, 5, 6)
        for i in rng.choice(np.flatnonzero(month == m), API_LEADS_PER_MONTH, replace=False)
    }
    uri = settings.tracking_uri
    with TestClient(create_app(settings)) as client:
        store = client.app.state.services.store  # type: ignore[attr-defined]
        _import(store, [lead for i, lead in enumerate(leads) if i not in api_rows])
        api_ids = {
            lead.external_id: _through_api(client, lead)
            for i, lead in enumerate(leads)
            if i in api_rows
        }

        # the API-driven leads are stored exactly as their history says
        stored = store_frame(store).set_index("external_id")
        for external_id in api_ids:
            source = frame.set_index("external_id").loc[external_id]
            assert stored.loc[external_id, "status"] == source["status"]
            assert stored.loc[external_id, "stage_reached"] == source["stage_reached"]

        # failures exit non-zero (a cron job or systemd unit then reports them)
        code, output, _ = _retrain("--data", str(tmp / "missing.csv"))
        assert code == 1
        assert "no such file" in output
        code, output, _ = _retrain("--stage", "closing")
        assert code == 2
        assert "--stage takes arrival or qualified" in output

        # 1. cold start: a new installation in its first weeks
        code, output, _ = _retrain("--as-of", "2026-01-20", *FAST)
        assert code == 0, output
        assert "cold start" in output
        assert "40 more positive" in output
        assert champion_version(uri, MODEL) is None
        first_lead = client.post("/leads", json=make_lead(), headers=headers()).json()
        assert first_lead["is_fallback"] is True

        # 2. a first model: promoted when it passes the gates that need no champion
        code, output, report = _retrain(
            "--as-of", "2026-05-15", *FAST, "--json", str(tmp / "r1.json")
        )
        assert code == 0, output
        first = report["models"][0]
        assert first["action"] == "promoted", output
        assert first["window"]["label"] == "2026-04"
        assert champion_version(uri, MODEL) == first["version"] == "1"
        client.post("/admin/models/reload", headers=headers("admin"))
        old_lead = client.post("/leads", json=make_lead(), headers=headers()).json()
        assert old_lead["model"] == {"name": MODEL, "version": "1"}

        # 3. two months later, more outcomes: promoted only if every gate passes
        code, output, report = _retrain(
            "--as-of", "2026-07-15", *FAST, "--json", str(tmp / "r2.json")
        )
        assert code == 0, output
        second = report["models"][0]
        gates = second["decision"]["reasons"]
        assert [g["name"] for g in gates] == [
            "settled outcomes",
            "window positives",
            "ROC-AUC vs champion",
            "better than champion",
            "calibration (ECE)",
            "feature drift (PSI)",
        ]
        assert second["champion_version"] == "1"
        assert second["window"]["label"] == "2026-06"
        # the feedback check reads the arrival draws the API leads logged (the suite runs
        # with exploration off, so the skipped leads' AUC cannot be estimated, and it says so)
        feedback = second["feedback"]
        assert 0 < feedback["leads"] <= len(api_ids)
        assert feedback["auc_ipw"] is None
        assert feedback["explored"] == 0
        passed = all(g["passed"] for g in gates)
        assert second["action"] == ("promoted" if passed else "refused")
        assert passed, output  # with twice the data the challenger is better on this seed
        assert champion_version(uri, MODEL) == "2"
        assert champion_version(uri, MODEL, PREVIOUS) == "1"
        for g in gates:  # the decision table shows every gate and its reason
            row = next(
                line for line in output.splitlines() if line.strip("│ ").startswith(g["name"])
            )
            assert ("pass" if g["passed"] else "FAIL") in row
        client.post("/admin/models/reload", headers=headers("admin"))
        assert _posted_version(client) == "2"
        # each stored score keeps the version that produced it
        kept = client.get(f"/leads/{old_lead['id']}", headers=headers()).json()
        assert kept["scores"][0]["model"]["version"] == "1"

        # 4. the same run again: nothing new, nothing promoted twice
        code, output, report = _retrain(
            "--as-of", "2026-07-15", *FAST, "--json", str(tmp / "r3.json")
        )
        assert code == 0, output
        assert report["models"][0]["action"] == "unchanged"
        assert "nothing to do" in output
        assert champion_version(uri, MODEL) == "2"

        # 5. a challenger trained on shuffled labels is refused, and says why
        export = store_frame(store)
        before = (export["arrived_at"] < pd.Timestamp("2026-06-01", tz=UTC)).to_numpy()
        outcome = ["status", "stage_reached", "closed_at", "status_history"]
        shuffled = export.copy()
        order = rng.permutation(np.flatnonzero(before))
        shuffled.loc[before, outcome] = export.loc[order, outcome].to_numpy()
        path = tmp / "shuffled.parquet"
        shuffled.to_parquet(path)
        code, output, report = _retrain(
            "--data", str(path), "--as-of", "2026-07-15", *FAST, "--json", str(tmp / "r4.json")
        )
        assert code == 0, output
        refused = report["models"][0]
        assert refused["action"] == "refused"
        failed = [g for g in refused["decision"]["reasons"] if not g["passed"]]
        assert "ROC-AUC vs champion" in [g["name"] for g in failed]
        assert "FAIL" in output
        assert "trail by at most" in output
        assert champion_version(uri, MODEL) == "2"

        # 6. the e-mail field stopped arriving in August: refused on drift, with the field
        code, output, report = _retrain(
            "--as-of", "2026-09-15", *FAST, "--json", str(tmp / "r5.json")
        )
        assert code == 0, output
        drifted = report["models"][0]
        assert drifted["window"]["label"] == "2026-08"
        assert drifted["action"] == "refused"
        psi_gate = next(
            g for g in drifted["decision"]["reasons"] if g["name"].startswith("feature")
        )
        assert psi_gate["passed"] is False
        assert "email_kind (email)" in psi_gate["message"]
        assert "email_kind (email)" in output
        assert champion_version(uri, MODEL) == "2"

        # 7. rollback: the running API follows through its periodic champion check
        rolled = CliRunner().invoke(cli, ["rollback", MODEL])
        assert rolled.exit_code == 0, rolled.output
        assert "champion 2 -> 1" in rolled.output
        assert champion_version(uri, MODEL) == "1"
        deadline = time.monotonic() + 10
        while _served_version(client) != "1" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _served_version(client) == "1"
        assert _posted_version(client) == "1"
        again = CliRunner().invoke(cli, ["rollback", MODEL])
        assert again.exit_code == 1
        assert "no 'previous' version" in again.output

        # 8. a hand-made promotion (e.g. of a refused challenger after review)
        promoted = CliRunner().invoke(cli, ["promote", MODEL, "2"])
        assert promoted.exit_code == 0, promoted.output
        assert champion_version(uri, MODEL) == "2"
        assert champion_version(uri, MODEL, PREVIOUS) == "1"
        missing = CliRunner().invoke(cli, ["promote", MODEL, "99"])
        assert missing.exit_code == 1
        assert "has no version 99" in missing.output
        client.post("/admin/models/reload", headers=headers("admin"))
        assert _posted_version(client) == "2"

        # 9. the drift report: e-mail flagged, written as Markdown and HTML
        result = CliRunner().invoke(cli, ["drift", "--as-of", "2026-09-15", "--no-log"])
        assert result.exit_code == 0, result.output
        markdown = (settings.data_dir / "reports" / f"drift-{MODEL}-2026-09-15.md").read_text()
        email_row = next(line for line in markdown.splitlines() if line.startswith("| email |"))
        assert email_row.endswith("| drift |")
        assert "Conversion (sql) by channel" in markdown
        assert (settings.data_dir / "reports" / f"drift-{MODEL}-2026-09-15.html").exists()


def test_store_frame_feeds_the_spec_and_the_labels(
    settings: ServingSettings, loader: MemoryLoader
) -> None:
    """The store read back as a data set, on SQLite and PostgreSQL: every spec column, the
    outcome as it stood at any moment, validated by the demo spec."""
    frame, _truth = generate_leads(n=300, seed=4, end=date(2026, 3, 31), months=3)
    catalog = load_catalog()
    leads = [frame_row_to_lead(row, catalog) for row in frame.to_dict(orient="records")]
    spec = load_spec("demo")
    with TestClient(create_app(settings, loader=loader)) as client:
        store = client.app.state.services.store  # type: ignore[attr-defined]
        _import(store, leads[:-3])
        for lead in leads[-3:]:
            _through_api(client, lead)
        columns = [c for f in spec.features for c in f.input_columns]
        stored = store_frame(store, columns)
    assert len(stored) == len(frame)
    assert set(columns) <= set(stored.columns)
    source = frame.set_index("external_id")
    stored = stored.set_index("external_id")
    for column in ("status", "stage_reached"):
        assert (stored[column] == source.loc[stored.index, column]).all(), column
    closed = source["closed_at"].notna()
    assert (stored.loc[closed[closed].index, "closed_at"] == source.loc[closed, "closed_at"]).all()
    as_of = pd.Timestamp("2026-03-01", tz=UTC)
    a = label_settled(stored.reset_index(), as_of, 30, reach="sql")
    b = label_settled(frame, as_of, 30, reach="sql")
    assert (a.closed, a.reached, a.matured, a.too_young, a.future) == (
        b.closed,
        b.reached,
        b.matured,
        b.too_young,
        b.future,
    )
    data = prepare_frame(spec, a.frame, source="store")
    expected = prepare_frame(spec, b.frame, source="frame")
    assert sorted(data.ids) == sorted(expected.ids)
    order = pd.Series(range(len(expected.ids)), index=expected.ids)
    assert np.array_equal(data.targets["sql"], expected.targets["sql"][order[data.ids].to_numpy()])


def test_the_outlooks_are_retrained_from_an_export_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`leadscore retrain --target outlook`: the outlook of each moment is checked out of
    time, registered and (the first) made champion; the JSON report says so."""
    monkeypatch.setenv("LEADSCORE_DATA_DIR", str(tmp_path / "data"))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("LEADSCORE_MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("COLUMNS", "400")
    frame, _truth = generate_leads(n=4_000, seed=5)
    path = tmp_path / "export.parquet"
    frame.to_parquet(path)
    code, output, report = _retrain(
        "--data", str(path), "--stage", "arrival", "--target", "outlook",
        "--json", str(tmp_path / "r.json"),
    )  # fmt: skip
    assert code == 0, output
    [outlook] = report["models"]
    assert outlook["model"] == "leadscore-arrival-outlook"
    assert outlook["target"] == "outlook"
    assert outlook["action"] == "promoted", output
    assert [g["name"] for g in outlook["decision"]["reasons"]] == [
        "calibration (ECE)",
        "ranking (AUC)",
    ]
    assert any(note.startswith("out of time: fitted on the") for note in outlook["notes"])
    assert champion_version(uri, "leadscore-arrival-outlook") == "1"
    assert champion_version(uri, MODEL) is None  # the models were not asked
