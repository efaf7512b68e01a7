"""The connectors' pure parts: webhook bodies -> events, the status maps, signatures, the
connector settings file and its secrets, the generic mapping."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from textwrap import dedent
from urllib.parse import urlencode

import pytest

from features.funnel import Status
from serving.connectors import amocrm, bitrix24, hubspot
from serving.connectors.base import BadPayloadError, Inbound, RefusedError
from serving.connectors.config import ConnectorConfigError, SecretRef, load_config
from serving.connectors.generic import Generic, Mapping, body_id, pick
from serving.connectors.statuses import AMOCRM_FIXED, status_map
from serving.store.outbox import NewEvent


def test_amocrm_events_from_added_unsorted_and_status_changes() -> None:
    form = {
        "leads[add][0][id]": "11",
        "leads[status][0][id]": "12",
        "leads[status][0][status_id]": "142",
        "leads[status][0][old_status_id]": "47000001",
        "unsorted[add][0][uid]": "f3a1",
        "unsorted[add][0][lead_id]": "11",  # the same lead, through the unsorted inbox
        "leads[update][0][id]": "13",  # not leadscore's
        "account[subdomain]": "agency",
    }
    assert amocrm.parse_events(form) == [
        NewEvent("add:11", "lead", "11"),
        NewEvent("status:12:142", "status", "12", "142"),
        NewEvent("add:11", "lead", "11"),  # one key: stored once
    ]
    with pytest.raises(BadPayloadError, match=r"leads\[status\]\[0\]\[status_id\]"):
        amocrm.parse_events({"leads[status][0][id]": "12"})


def test_the_amocrm_secret_is_kept_out_of_the_access_log() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", "/webhooks/amocrm/s3cret?x=1", "1.1", 200), None,
    )  # fmt: skip
    assert amocrm.HIDE_WEBHOOK_SECRET.filter(record)
    assert "s3cret" not in record.getMessage()
    assert "/webhooks/amocrm/***?x=1" in record.getMessage()


def test_bitrix24_events() -> None:
    add = {"event": "ONCRMLEADADD", "data[FIELDS][ID]": "5"}
    update = {"event": "ONCRMLEADUPDATE", "data[FIELDS][ID]": "5", "ts": "1764660000"}
    assert bitrix24.parse_events(add) == [NewEvent("add:5", "lead", "5")]
    assert bitrix24.parse_events(update) == [NewEvent("update:5:1764660000", "status", "5")]
    assert bitrix24.parse_events({"event": "ONCRMDEALADD", "data[FIELDS][ID]": "5"}) == []
    with pytest.raises(BadPayloadError, match=r"data\[FIELDS\]\[ID\]"):
        bitrix24.parse_events({"event": "ONCRMLEADADD", "data[FIELDS][ID]": "x"})


def test_hubspot_events_and_their_errors() -> None:
    events = [
        {"eventId": 1, "subscriptionType": "contact.creation", "objectId": 9},
        {
            "eventId": 2,
            "subscriptionType": "contact.propertyChange",
            "objectId": 9,
            "propertyName": "hs_lead_status",
            "propertyValue": "OPEN",
        },
        {"eventId": 3, "subscriptionType": "contact.deletion", "objectId": 9},
    ]
    assert hubspot.parse_events(events, "hs_lead_status") == [
        NewEvent("event:1", "lead", "9"),
        NewEvent("event:2", "status", "9", "OPEN"),
    ]
    with pytest.raises(BadPayloadError, match=r"0\.objectId"):
        hubspot.parse_events([{"eventId": 1, "objectId": "9"}], "hs_lead_status")
    with pytest.raises(BadPayloadError, match="JSON array"):
        hubspot.parse_events({"eventId": 1}, "hs_lead_status")


def _inbound(body: bytes, headers: dict[str, str], at: datetime) -> Inbound:
    return Inbound("POST", "https://ls.example.com/webhooks/hubspot", headers, body, at)


def test_hubspot_signature_v3() -> None:
    body = b'[{"eventId":1}]'
    now = datetime.now(UTC)
    stamp = str(int(now.timestamp() * 1000))
    uri = "https://ls.example.com/webhooks/hubspot"
    good = hubspot.signature("secret", "POST", uri, body, stamp)
    headers = {"x-hubspot-signature-v3": good, "x-hubspot-request-timestamp": stamp}
    hubspot.check_signature("secret", _inbound(body, headers, now), uri)
    with pytest.raises(RefusedError, match="does not match"):
        hubspot.check_signature("secret", _inbound(body + b" ", headers, now), uri)
    with pytest.raises(RefusedError, match="does not match"):
        hubspot.check_signature("secret", _inbound(body, headers, now), uri + "?x=1")
    old = str(int((time.time() - 301) * 1000))
    stale = {"x-hubspot-signature-v3": good, "x-hubspot-request-timestamp": old}
    with pytest.raises(RefusedError, match="stale"):
        hubspot.check_signature("secret", _inbound(body, stale, now), uri)


def test_status_maps_keep_amocrms_fixed_won_and_lost() -> None:
    mapped = status_map({"47000002": Status.SDR_QUALIFYING}, AMOCRM_FIXED)
    assert mapped("142") is Status.WON
    assert mapped("143") is Status.LOST
    assert mapped("47000002") is Status.SDR_QUALIFYING
    assert mapped("999") is None
    with pytest.raises(ValueError, match="fixed 'won'"):
        status_map({"142": Status.LOST}, AMOCRM_FIXED)


def test_secrets_come_from_env_or_files_and_are_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T_SECRET", "s3cret-value")
    secret = SecretRef(env="T_SECRET").read()
    assert secret.get_secret_value() == "s3cret-value"
    assert "s3cret" not in repr(secret)
    assert "s3cret" not in str(secret)
    (tmp_path / "token").write_text("from-a-file\n", encoding="utf-8")
    assert SecretRef(file=tmp_path / "token").read().get_secret_value() == "from-a-file"
    monkeypatch.delenv("T_SECRET")
    with pytest.raises(ConnectorConfigError, match="environment variable T_SECRET is not set"):
        SecretRef(env="T_SECRET").read()


def test_the_settings_file_is_checked_with_its_places(tmp_path: Path) -> None:
    path = tmp_path / "connectors.yaml"
    settings = """\
        amocrm:
          subdomain: a
          token: {env: X}
          webhook_secret: {env: Y}
          fields: {probability: 1, tier: 2, reasons: 3}
          statuses: {142: won, 5: nowhere}
        """
    path.write_text(dedent(settings), encoding="utf-8")
    with pytest.raises(ConnectorConfigError, match=r"amocrm\.statuses\.5"):
        load_config(path)
    path.write_text("hubspot:\n  token: {env: X, file: y}\n", encoding="utf-8")
    with pytest.raises(ConnectorConfigError, match="exactly one of env"):
        load_config(path)


def test_generic_mapping_paths_ids_and_field_names() -> None:
    document = {"a": {"b": [{"c": 1}]}, "x": None}
    assert pick(document, "a.b.0.c") == 1
    assert pick(document, "a.missing") is None
    assert pick(document, "x.y") is None
    assert body_id({"b": 1, "a": 2}) == body_id({"a": 2, "b": 1})
    mapping = Mapping(source={"email": "contact.email"}, channel="chat")
    form = Generic("chat", mapping, "s", None)
    now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    body = urlencode({}).encode()
    inbound = Inbound("POST", "/", {}, body, now, json_body={"contact": {"email": "a@b.ru"}})
    (event,) = form.events(inbound)
    assert event.crm_id.startswith("sha256-")
    lead = form.lead(event.payload, now)
    assert (lead.arrived_at, lead.source.channel, lead.source.email) == (now, "chat", "a@b.ru")
    assert form.writes_back is False
    with pytest.raises(ValueError, match="unknown source fields"):
        Mapping(source={"emial": "contact.email"})
