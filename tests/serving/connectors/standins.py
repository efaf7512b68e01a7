"""Local stand-ins for the CRMs' APIs: one small Starlette app on 127.0.0.1 (a free port,
uvicorn in a thread) that serves the endpoints leadscore calls, with the payload shapes of
tests/serving/connectors/payloads.py, and records every request it gets.

Mounted per CRM: ``/amocrm`` (API v4 leads and contacts), ``/bitrix24/rest/1/<code>/``
(crm.item.get / crm.item.update), ``/hubspot`` (CRM v3 contacts) and ``/zapier`` (a catch
hook for the generic webhook's write-back). ``answer_writes`` makes the write endpoints
answer an error (500, 429 with Retry-After) or answer late, to test retries and timeouts.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

AMOCRM_TOKEN = "amo-long-lived-token-0001"
BITRIX24_CODE = "k3y9webhookcode"
HUBSPOT_TOKEN = "pat-eu1-standin-0001"


@dataclass
class Recorded:
    """One request the stand-in got."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    at: float  # time.monotonic() on arrival
    status: int = 0  # what the stand-in answered


@dataclass
class WriteAnswer:
    """How the write endpoints answer: ``status`` None = normally."""

    status: int | None = None
    delay: float = 0.0
    retry_after: float | None = None


@dataclass
class CrmState:
    amocrm_leads: dict[int, dict[str, Any]] = field(default_factory=dict)
    amocrm_contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    bitrix24_items: dict[int, dict[str, Any]] = field(default_factory=dict)
    hubspot_contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    writes: WriteAnswer = field(default_factory=WriteAnswer)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.amocrm_leads.clear()
            self.amocrm_contacts.clear()
            self.bitrix24_items.clear()
            self.hubspot_contacts.clear()
            self.requests.clear()
            self.writes = WriteAnswer()

    def recorded(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        with self.lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method) and (path is None or r.path == path)
            ]

    def delivered(self, method: str, path: str) -> list[Recorded]:
        """Writes to ``path`` the stand-in answered with success."""
        return [r for r in self.recorded(method, path) if 200 <= r.status < 300]


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    if request.headers.get("content-type", "").startswith("application/json"):
        return await request.json()
    return raw.decode()


def _standin_app(state: CrmState) -> Starlette:
    async def record(request: Request) -> Recorded:
        entry = Recorded(
            request.method,
            request.url.path,
            request.url.query,
            dict(request.headers),
            await _body(request),
            time.monotonic(),
        )
        with state.lock:
            state.requests.append(entry)
        return entry

    def answer(entry: Recorded, response: Response) -> Response:
        entry.status = response.status_code
        return response

    async def planned(entry: Recorded) -> Response | None:
        """The planned answer of a write, or None to answer it normally."""
        plan = state.writes
        if plan.delay:
            await asyncio.sleep(plan.delay)
        if plan.status is None:
            return None
        headers = {"Retry-After": f"{plan.retry_after:g}"} if plan.retry_after else None
        return answer(entry, JSONResponse({"error": "planned"}, plan.status, headers=headers))

    def bearer(request: Request, token: str) -> bool:
        return request.headers.get("authorization") == f"Bearer {token}"

    # --- amoCRM API v4 (https://www.amocrm.ru/developers/content/crm_platform/leads-api)
    async def amocrm_lead(request: Request) -> Response:
        entry = await record(request)
        if not bearer(request, AMOCRM_TOKEN):
            return answer(entry, JSONResponse({"title": "Unauthorized", "status": 401}, 401))
        lead_id = int(request.path_params["lead_id"])
        lead = state.amocrm_leads.get(lead_id)
        if lead is None:
            return answer(entry, Response(status_code=204))  # amoCRM's "nothing found"
        if request.method == "GET":
            return answer(entry, JSONResponse(lead))
        made = await planned(entry)
        if made is not None:
            return made
        return answer(entry, JSONResponse({"id": lead_id, "updated_at": int(time.time())}))

    async def amocrm_contact(request: Request) -> Response:
        entry = await record(request)
        contact = state.amocrm_contacts.get(int(request.path_params["contact_id"]))
        if not bearer(request, AMOCRM_TOKEN) or contact is None:
            return answer(entry, JSONResponse({"title": "Not found"}, 404))
        return answer(entry, JSONResponse(contact))

    # --- Bitrix24 (https://apidocs.bitrix24.com/api-reference/crm/universal/crm-item-get.html)
    async def bitrix24(request: Request) -> Response:
        entry = await record(request)
        if request.path_params["code"] != BITRIX24_CODE:
            return answer(entry, JSONResponse({"error": "INVALID_CREDENTIALS"}, 401))
        body = entry.body or {}
        item = state.bitrix24_items.get(int(body.get("id", 0)))
        if item is None or body.get("entityTypeId") != 1:
            return answer(entry, JSONResponse({"error": "NOT_FOUND"}, 400))
        if request.path_params["method"] == "crm.item.get.json":
            return answer(entry, JSONResponse({"result": {"item": item}}))
        made = await planned(entry)
        if made is not None:
            return made
        return answer(entry, JSONResponse({"result": {"item": {**item, **body["fields"]}}}))

    # --- HubSpot CRM v3 (https://developers.hubspot.com/docs/api/crm/contacts)
    async def hubspot_contact(request: Request) -> Response:
        entry = await record(request)
        if not bearer(request, HUBSPOT_TOKEN):
            return answer(entry, JSONResponse({"status": "error", "category": "INVALID_AUTH"}, 401))
        contact = state.hubspot_contacts.get(int(request.path_params["contact_id"]))
        if contact is None:
            return answer(
                entry, JSONResponse({"status": "error", "category": "OBJECT_NOT_FOUND"}, 404)
            )
        if request.method == "GET":
            return answer(entry, JSONResponse(contact))
        made = await planned(entry)
        if made is not None:
            return made
        return answer(
            entry,
            JSONResponse(
                {**contact, "properties": {**contact["properties"], **entry.body["properties"]}}
            ),
        )

    # --- a Zapier-style catch hook (the generic webhook's write-back)
    async def catch_hook(request: Request) -> Response:
        entry = await record(request)
        made = await planned(entry)
        if made is not None:
            return made
        return answer(entry, JSONResponse({"status": "success"}))

    return Starlette(
        routes=[
            Route("/amocrm/api/v4/leads/{lead_id:int}", amocrm_lead, methods=["GET", "PATCH"]),
            Route("/amocrm/api/v4/contacts/{contact_id:int}", amocrm_contact, methods=["GET"]),
            Route("/bitrix24/rest/1/{code}/{method}", bitrix24, methods=["POST"]),
            Route(
                "/hubspot/crm/v3/objects/contacts/{contact_id:int}",
                hubspot_contact,
                methods=["GET", "PATCH"],
            ),
            Route("/zapier/hooks/catch/{hook:path}", catch_hook, methods=["POST"]),
        ]
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class StandIn:
    """The stand-in CRMs, served on 127.0.0.1 by uvicorn in a daemon thread."""

    def __init__(self) -> None:
        self.state = CrmState()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            _standin_app(self.state),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="crm-standin", daemon=True)

    def start(self) -> StandIn:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the CRM stand-in did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(5)
