"""Hostile input, payload class by payload class (the probe of issue 16), on the real app and
store (SQLite and PostgreSQL): every one is a 4xx naming what was wrong, never a 5xx, and
a refused request leaves the store as it was. Also: a 500 closes its connection and
carries no exception text, and a database outage is a 503 with ``Retry-After``.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, select

from features.funnel import Status
from serving.app import create_app
from serving.modelset import MemoryLoader
from serving.settings import ServingSettings
from serving.store.leads import NewLead, Store
from serving.store.tables import Base, LeadRow
from tests.serving.conftest import PostLead, headers, make_lead

ADMIN = headers("admin")
JSON_ADMIN = {**ADMIN, "content-type": "application/json"}
MAX_ID = 2**63 - 1


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the store, in a stable order."""
    with store.reading() as session:
        return {
            table.name: sorted((tuple(row) for row in session.execute(select(table))), key=repr)
            for table in Base.metadata.sorted_tables
        }


def _store(client: TestClient) -> Store:
    store: Store = client.app.state.services.store  # type: ignore[attr-defined]
    return store


def _strict_json(text: str) -> Any:
    """The body as strict JSON: NaN/Infinity tokens are not JSON and fail here."""

    def refuse(token: str) -> Any:
        raise AssertionError(f"the response holds {token}, which JSON does not allow")

    return json.loads(text, parse_constant=refuse)


def _fields(response: Any) -> dict[str, str]:
    body = _strict_json(response.text)
    return {error["field"]: error["message"] for error in body["errors"]}


def _refused(
    client: TestClient, method: str, path: str, raw: str | None = None, **kwargs: Any
) -> Any:
    """Send a request that must be refused with a 4xx leaving the store unchanged."""
    before = snapshot(_store(client))
    if raw is not None:
        kwargs.update(content=raw.encode(), headers=JSON_ADMIN)
    else:
        kwargs.setdefault("headers", ADMIN)
    response = client.request(method, path, **kwargs)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:500])
    assert snapshot(_store(client)) == before
    return response


@pytest.fixture
def lead_id(post_lead: PostLead) -> int:
    lead_id: int = post_lead()["id"]
    return lead_id


def _raw(body: dict[str, Any], number: str) -> str:
    """``body`` as JSON text with the value ``"N"`` replaced by the token ``number``
    (NaN, Infinity, a 400-digit integer: what json.dumps would not write)."""
    return json.dumps(body).replace('"N"', number)


def _lead_json(**extra: Any) -> dict[str, Any]:
    return {**make_lead(), **extra}


# ------------------------------------------------------------------------------ numbers


NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e309"]


def test_a_non_finite_number_is_a_422_naming_the_field_never_echoed(
    client: TestClient, lead_id: int
) -> None:
    """Item 1 and 2: the handler used to echo NaN (a 500); Infinity and 1e309 passed."""
    for number in NON_FINITE:
        won = _raw({"status": "won", "deal_value": {"amount": "N", "currency": "RUB"}}, number)
        response = _refused(client, "POST", f"/leads/{lead_id}/status", won)
        assert response.status_code == 422
        assert _fields(response) == {"deal_value.amount": "expected a finite number"}

        budget = _raw({"bant": {"budget": {"amount": "N", "currency": "RUB"}}}, number)
        response = _refused(client, "PUT", f"/leads/{lead_id}/qualification", budget)
        assert "bant.budget.amount" in _fields(response)

        seo = {"service": "seo", "answers": {"site_age_years": "N"}}
        answers = _raw({"bant": {}, "questionnaire": seo}, number)
        response = _refused(client, "PUT", f"/leads/{lead_id}/qualification", answers)
        assert "questionnaire.answers.site_age_years" in _fields(response)

        records = _raw({"records": [{"channel": "seo", "budget_amount": "N"}]}, number)
        response = _refused(client, "POST", "/score", records)
        assert "records.0.budget_amount" in _fields(response)


def test_a_won_lead_posted_with_an_infinite_deal_value_is_refused(client: TestClient) -> None:
    lead = make_lead()
    lead["status_history"] = [{"status": "won", "at": lead["arrived_at"]}]
    raw = json.dumps(lead)[:-1] + ', "deal_value": {"amount": Infinity, "currency": "RUB"}}'
    response = _refused(client, "POST", "/leads", raw)
    assert _fields(response) == {"deal_value.amount": "expected a finite number"}


def test_amounts_above_the_documented_maximum_are_refused(client: TestClient, lead_id: int) -> None:
    """Item 8: 1e16 was a 500 on PostgreSQL and stored as is on SQLite."""
    for amount in (1e16, 1e12 + 1, 10**20):
        body = {"status": "won", "deal_value": {"amount": amount, "currency": "RUB"}}
        response = _refused(client, "POST", f"/leads/{lead_id}/status", json=body)
        assert list(_fields(response)) == ["deal_value.amount"]
        budget = {"bant": {"budget": {"amount": amount, "currency": "RUB"}}}
        response = _refused(client, "PUT", f"/leads/{lead_id}/qualification", json=budget)
        assert list(_fields(response)) == ["bant.budget.amount"]


def test_a_deal_value_is_kept_to_the_cent_on_every_backend(
    client: TestClient, lead_id: int
) -> None:
    body = {"status": "won", "deal_value": {"amount": 999_999_999_999.994, "currency": "RUB"}}
    response = client.post(f"/leads/{lead_id}/status", json=body, headers=ADMIN)
    assert response.status_code == 200, response.text
    stored = client.get(f"/leads/{lead_id}", headers=ADMIN).json()["deal_value"]
    assert stored == {"amount": 999_999_999_999.99, "currency": "RUB"}


def test_a_huge_integer_answer_is_refused_by_its_question(client: TestClient, lead_id: int) -> None:
    """Item 9 at input: a 400-digit answer used to be stored (and broke the report)."""
    for service, key, answer in [
        ("ppc", "monthly_ad_spend", "1" * 400),
        ("smm", "followers_k", "-" + "9" * 30),
        ("seo", "site_age_years", "1" * 400),
    ]:
        questionnaire = {"service": service, "answers": {key: "N"}}
        raw = _raw({"bant": {}, "questionnaire": questionnaire}, answer)
        response = _refused(client, "PUT", f"/leads/{lead_id}/qualification", raw)
        message = _fields(response)[f"questionnaire.answers.{key}"]
        assert message.startswith("expected a number")


def test_an_integer_too_long_to_read_is_a_422(client: TestClient, lead_id: int) -> None:
    raw = _raw({"status": "won", "deal_value": {"amount": "N", "currency": "RUB"}}, "7" * 5000)
    response = _refused(client, "POST", f"/leads/{lead_id}/status", raw)
    assert response.status_code == 422
    assert "too long" in _fields(response)["(whole body)"]


# ------------------------------------------------------------------------------ times


def test_an_arrival_outside_the_event_window_is_a_422(client: TestClient) -> None:
    """Item 3: the first two were 500s (the SLA deadline overflowed; no such UTC time)."""
    for arrived_at in [
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00+05:00",
        "1999-12-31T23:59:59Z",  # before the earliest event year
        (datetime.now(UTC) + timedelta(days=1)).isoformat(),  # past the clock skew allowed
    ]:
        response = _refused(client, "POST", "/leads", json=_lead_json(arrived_at=arrived_at))
        assert response.status_code == 422
        assert list(_fields(response)) == ["arrived_at"]


def test_history_and_first_touch_times_are_checked_too(client: TestClient) -> None:
    lead = _lead_json(status_history=[{"status": "new", "at": "1990-05-01T00:00:00Z"}])
    lead["source"]["first_touch_at"] = "9999-01-01T00:00:00Z"
    response = _refused(client, "POST", "/leads", json=lead)
    assert set(_fields(response)) == {"status_history.0.at", "source.first_touch_at"}
    scored = _refused(client, "POST", "/score", json={"leads": [lead]})
    assert "leads.0.source.first_touch_at" in _fields(scored)


def test_a_status_time_outside_the_event_window_is_a_422(client: TestClient, lead_id: int) -> None:
    """Item 3: the first two were 500s."""
    for at in ["9999-12-31T23:30:00-01:00", "0001-01-01T00:00:00+05:00", "1970-01-01T00:00:00Z"]:
        body = {"status": "sdr_qualifying", "at": at}
        response = _refused(client, "POST", f"/leads/{lead_id}/status", json=body)
        assert list(_fields(response)) == ["at"]


def test_a_far_future_status_time_does_not_freeze_the_lead(
    client: TestClient, lead_id: int
) -> None:
    """Item 4: a change dated tomorrow was accepted, and then every later change (even
    ``disqualified``) was a 409 "dated before the last recorded change"."""
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    body = {"status": "sdr_qualifying", "at": tomorrow}
    refused = _refused(client, "POST", f"/leads/{lead_id}/status", json=body)
    assert refused.status_code == 422
    assert "no later than" in _fields(refused)["at"]
    moved = client.post(f"/leads/{lead_id}/status", json={"status": "disqualified"}, headers=ADMIN)
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "disqualified"


def test_a_change_dated_just_ahead_does_not_make_the_next_one_a_409(
    client: TestClient, lead_id: int
) -> None:
    """Within the window's few minutes ahead (clock skew): the next change sent without a
    time is dated with it, not before it."""
    ahead = datetime.now(UTC) + timedelta(minutes=2)
    body = {"status": "sdr_qualifying", "at": ahead.isoformat()}
    assert client.post(f"/leads/{lead_id}/status", json=body, headers=ADMIN).status_code == 200
    moved = client.post(f"/leads/{lead_id}/status", json={"status": "disqualified"}, headers=ADMIN)
    assert moved.status_code == 200, moved.text
    last = datetime.fromisoformat(moved.json()["history"][-1]["at"])
    assert abs(last - ahead) < timedelta(seconds=1)


# ------------------------------------------------------------------------------ ids


def test_an_id_out_of_range_is_a_422_on_every_path_with_an_id(client: TestClient) -> None:
    """Item 5: ids >= 2^63 were 500s on every path."""
    for bad_id in [str(2**63), str(10**30), "0", "-1"]:
        requests: list[tuple[str, str, dict[str, Any]]] = [
            ("GET", f"/leads/{bad_id}", {}),
            ("PUT", f"/leads/{bad_id}/qualification", {"json": {"bant": {}}}),
            ("POST", f"/leads/{bad_id}/status", {"json": {"status": "disqualified"}}),
            ("POST", f"/queue/{bad_id}/release", {}),
        ]
        for method, path, kwargs in requests:
            response = _refused(client, method, path, **kwargs)
            assert response.status_code == 422, (path, response.text)
            assert list(_fields(response)) == ["lead_id"]


def test_the_largest_id_is_simply_not_found(client: TestClient) -> None:
    response = _refused(client, "GET", f"/leads/{MAX_ID}")
    assert response.status_code == 404


# ------------------------------------------------------------------------------ text


def test_nul_in_any_text_is_a_422_naming_where(client: TestClient, lead_id: int) -> None:
    """Item 7: NUL was a 500 on PostgreSQL and stored on SQLite."""
    lead = make_lead(channel="ref\u0000erral")
    assert _fields(_refused(client, "POST", "/leads", json=lead)) == {
        "source.channel": "text must not contain the NUL character (\\u0000)"
    }
    note = {"status": "sdr_qualifying", "note": "call\u0000back"}
    assert list(_fields(_refused(client, "POST", f"/leads/{lead_id}/status", json=note))) == [
        "note"
    ]
    by_external = _refused(client, "GET", "/leads/by-external/nul%00x")
    assert list(_fields(by_external)) == ["external_id"]
    # query parameters of every router (the queue's channel filter was a 500 on PostgreSQL)
    assert list(_fields(_refused(client, "GET", "/queue?channel=a%00b"))) == ["channel"]
    assert list(_fields(_refused(client, "GET", "/reports/channels?period=a%00b"))) == ["period"]
    key = {"records": [{"chan\u0000nel": "seo"}]}
    assert "records.0.chan\u0000nel" in _fields(_refused(client, "POST", "/score", json=key))
    csv = _refused(
        client, "POST", "/score/csv", files={"file": ("a.csv", b"channel\nse\x00o\n", "text/csv")}
    )
    assert "NUL" in _strict_json(csv.text)["detail"]


# ------------------------------------------------------------------------------ JSON shape


def test_duplicate_keys_are_a_422_naming_the_object_and_key(
    client: TestClient, lead_id: int
) -> None:
    """Item 12: the last of two keys silently won."""
    top = '{"status": "won", "status": "disqualified"}'
    response = _refused(client, "POST", f"/leads/{lead_id}/status", top)
    assert _fields(response) == {"(whole body)": "the key 'status' is given more than once"}
    nested = '{"status": "won", "deal_value": {"amount": 5, "amount": 7, "currency": "RUB"}}'
    response = _refused(client, "POST", f"/leads/{lead_id}/status", nested)
    assert _fields(response) == {"deal_value": "the key 'amount' is given more than once"}


def test_deep_nesting_is_a_422_saying_so(client: TestClient) -> None:
    """Item 12: depth 10k was a 400 "error parsing the body" naming nothing."""
    for depth in (40, 10_000):
        raw = '{"records": [' + "[" * depth + "]" * depth + "]}"
        response = _refused(client, "POST", "/score", raw)
        assert response.status_code == 422
        (message,) = _fields(response).values()
        assert "nested too deeply: at most 32 levels" in message


def test_broken_json_is_still_a_422_saying_where(client: TestClient) -> None:
    response = _refused(client, "POST", "/score", '{"records": [}')
    assert response.status_code == 422
    assert "at character 13" in _fields(response)["(whole body)"]


def test_a_csv_field_over_the_csv_limit_names_its_row(client: TestClient) -> None:
    """Item 6: a 500 (_csv.Error)."""
    data = "channel,message\nseo,hi\nppc," + "x" * 131_073 + "\n"
    response = _refused(
        client, "POST", "/score/csv", files={"file": ("big.csv", data.encode(), "text/csv")}
    )
    assert response.status_code == 422
    (error,) = _strict_json(response.text)["errors"]
    assert (error["field"], error["row"], error["line"]) == ("rows[1]", 1, 3)
    assert "longer than 131072 characters" in error["message"]


# ------------------------------------------------------------------------------ stored values


def test_a_stored_huge_answer_does_not_break_the_lead_or_the_channel_report(
    client: TestClient,
) -> None:
    """Item 9: a 400-digit answer stored by an older version (written here straight into
    the store) made every later GET /reports/channels(.html) a 500."""
    lead = make_lead("huge-answer")
    record = {**lead["source"], "external_id": "huge-answer", "q_monthly_ad_spend": 10**400}
    lead_id, _ = _store(client).add_lead(_new_lead(lead, record), datetime.now(UTC))
    assert client.get(f"/leads/{lead_id}", headers=ADMIN).status_code == 200
    report = client.get("/reports/channels", params={"min_leads": 1}, headers=ADMIN)
    assert report.status_code == 200, report.text
    page = client.get("/reports/channels.html", params={"min_leads": 1}, headers=ADMIN)
    assert page.status_code == 200


def _new_lead(lead: dict[str, Any], record: dict[str, Any]) -> NewLead:
    arrived = datetime.fromisoformat(lead["arrived_at"])
    return NewLead(
        external_id=lead["external_id"],
        arrived_at=arrived,
        channel=lead["source"]["channel"],
        source=lead["source"],
        record={**record, "arrived_at": lead["arrived_at"]},
        history=[(Status.NEW, arrived, None)],
        deal_value=None,
        deal_currency=None,
        sla_deadline=arrived + timedelta(minutes=30),
        created_by="old-version",
    )


# ------------------------------------------------------------------------------ 500 and 503


def test_a_500_names_no_exception_and_closes_the_connection(
    settings: ServingSettings, loader: MemoryLoader
) -> None:
    """Item 11: a 500 dropped the keep-alive connection without saying so."""
    app = create_app(settings, loader=loader)

    def broken() -> None:
        raise RuntimeError("secret detail: password=hunter2")

    app.add_api_route("/broken", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/broken")
        assert response.status_code == 500
        assert response.headers["connection"] == "close"
        assert "hunter2" not in response.text
        assert "RuntimeError" not in response.text
        assert _strict_json(response.text)["detail"].startswith("internal error")
        assert client.get("/health").status_code == 200


class _TcpProxy:
    """A TCP relay to the database that can be cut (a real outage) and restored."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port: int = probe.getsockname()[1]
        probe.close()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(32)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Close the listener and every relayed connection: the database is gone."""
        if self._listener is not None:
            with suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
            self._listener.close()
            self._listener = None
        with self._lock:
            for end in self._sockets:
                with suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()
            self._sockets.clear()


@contextmanager
def _sqlite_locked(url: str) -> Iterator[None]:
    """Another process-like writer holds the SQLite file's write lock."""
    engine = create_engine(url)
    with engine.connect() as connection:
        connection.exec_driver_sql("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            connection.exec_driver_sql("ROLLBACK")
    engine.dispose()


def test_a_database_outage_is_a_503_with_retry_after_and_heals(
    database_url: str, tmp_path: Path, loader: MemoryLoader, settings: ServingSettings
) -> None:
    """A store that cannot be reached (PostgreSQL behind a relay that is cut) or that a
    writer keeps locked (SQLite) answers 503 with Retry-After, not 500; nothing is
    half-written, and the same request succeeds once the store is back, without restart."""
    proxy: _TcpProxy | None = None
    url = database_url
    if not database_url.startswith("sqlite"):
        parsed = make_url(database_url)
        proxy = _TcpProxy((parsed.host or "127.0.0.1", parsed.port or 5432))
        proxy.start()
        url = parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    fresh = settings.model_copy(update={"database_url": url, "db_busy_timeout_ms": 200})
    lead = make_lead(f"outage-{uuid.uuid4().hex[:6]}")
    with TestClient(create_app(fresh, loader=loader)) as client:
        assert client.post("/leads", json=make_lead(), headers=ADMIN).status_code == 201

        @contextmanager
        def outage() -> Iterator[None]:
            if proxy is None:
                with _sqlite_locked(url):
                    yield
            else:
                proxy.cut()
                yield
                proxy.start()

        with outage():
            response = client.post("/leads", json=lead, headers=ADMIN)
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"] == "5"
            assert "lead store is unavailable" in response.json()["detail"]
        again = client.post("/leads", json=lead, headers=ADMIN)
        assert again.status_code == 201, again.text
        stored = client.get(f"/leads/by-external/{lead['external_id']}", headers=ADMIN)
        assert stored.json()["id"] == again.json()["id"]
        assert len(stored.json()["history"]) == 1
    if proxy is not None:
        proxy.cut()


def test_the_store_rows_are_read_back_by_the_snapshot(client: TestClient, lead_id: int) -> None:
    """The snapshot the other tests compare sees what the API stored."""
    rows = snapshot(_store(client))
    assert len(rows[LeadRow.__tablename__]) == 1
    assert len(rows["status_changes"]) == 1
