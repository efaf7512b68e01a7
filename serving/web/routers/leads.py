"""The lead page: source data, history, scores and their chart, the outlook, claims, the
qualification form (rescoring through the API's workflow) and the funnel moves."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from features.i18n import N_
from serving.api.auth import Permission
from serving.api.deps import Services
from serving.api.errors import ApiError, validation_errors
from serving.api.schemas import LeadDetail, QualificationRequest
from serving.api.workflows import lead_detail, qualify_lead
from serving.web.deps import LeadViewer, MovingStatus, PageServices, PageStore, Qualifying
from serving.web.errors import lead_number, refusals_as_pages
from serving.web.forms import (
    QualificationForm,
    choose_service,
    field_errors,
    form_values,
    qualification_form,
    request_body,
)
from serving.web.moving import move_from_form, text_fields
from serving.web.outlooks import shown_outlook
from serving.web.sessions import WebSession
from serving.web.templating import render
from serving.web.views import moves, probability_chart, source_rows
from serving.web.words import page_locale, page_words

router = APIRouter(prefix="/app/leads", include_in_schema=False)


def _form_for(
    request: Request, services: Services, lead: LeadDetail, service: str | None
) -> QualificationForm:
    """The form for the service asked for, else the lead's last answers' or need's."""
    last = lead.qualifications[-1] if lead.qualifications else None
    stored = (last.questionnaire or {}).get("service") if last else None
    need = last.bant.get("need_service") if last else None
    chosen = choose_service(services.catalog, service, stored, need)
    values = form_values(last.bant, last.questionnaire) if last else {}
    if last is None or stored != chosen:
        values = {k: v for k, v in values.items() if not k.startswith("questionnaire.")}
    values.setdefault("bant.need_service", chosen)
    return qualification_form(services.catalog, chosen, values, {}, page_words(request))


def _page(
    request: Request,
    services: Services,
    session: WebSession,
    lead: LeadDetail,
    form: QualificationForm,
    *,
    status_problem: str | None = None,
    status_code: int = 200,
    saved: bool = False,
) -> Response:
    target = services.scorer.queue_target
    qualified = [s for s in lead.scores if s.stage == "qualified" and s.target == target]
    context: dict[str, Any] = {
        "title": page_words(request).gettext(N_("Lead {id}")).format(id=lead.id),
        "lead": lead,
        "source_rows": source_rows(lead.source),
        "chart": probability_chart(lead.scores, target, translate=page_words(request)),
        "target": target,
        "outlook": shown_outlook(lead.outlook, services.settings, page_words(request)),
        "form": form,
        "latest_qualified": qualified[-1] if qualified else None,
        "moves": moves(lead.status, lead.route, page_words(request))
        if session.may(Permission.CHANGE_STATUS)
        else [],
        "may_qualify": session.may(Permission.QUALIFY) and not lead.status.is_terminal,
        "may_claim": session.may(Permission.CLAIM),
        "status_problem": status_problem,
        "saved": saved,
    }
    return render(request, "lead.html", context, status_code)


def _lead_and_form(
    request: Request,
    lead_id: str,
    services: PageServices,
    store: PageStore,
    service: str | None = None,
) -> tuple[LeadDetail, QualificationForm]:
    """The lead of the path (a 404 page when there is none) and its qualification form for
    ``service``, in the page's language."""
    with refusals_as_pages():
        lead = lead_detail(store.lead(lead_number(lead_id)), page_locale(request))
    return lead, _form_for(request, services, lead, service)


#: After the session in a route's parameters, so that a caller without the permission
#: never learns whether the lead exists.
LeadAndForm = Annotated[tuple[LeadDetail, QualificationForm], Depends(_lead_and_form)]


@router.get("/{lead_id}")
def lead_page(
    request: Request,
    session: LeadViewer,
    shown: LeadAndForm,
    services: PageServices,
    saved: str | None = None,
) -> Response:
    lead, form = shown
    return _page(request, services, session, lead, form, saved=bool(saved))


@router.get("/{lead_id}/qualification")
def qualification_fragment(request: Request, session: LeadViewer, shown: LeadAndForm) -> Response:
    """The form alone for another service line (htmx swaps it in when the service changes)."""
    lead, form = shown
    return render(request, "_qualification.html", {"lead": lead, "form": form})


@router.post("/{lead_id}/qualification")
async def post_qualification(
    request: Request,
    lead_id: str,
    session: Qualifying,
    services: PageServices,
    store: PageStore,
) -> Response:
    """Validated exactly as ``PUT /leads/{id}/qualification``: a bad answer re-shows the
    form with the message beside its field and stores nothing."""
    number = lead_number(lead_id)
    submitted = text_fields(await request.form())
    body = request_body(services.catalog, submitted)
    errors: dict[str, str] = {}
    try:
        parsed = QualificationRequest.model_validate(body)
    except ValidationError as error:
        errors = field_errors(validation_errors(error.errors()))
    else:
        models = services.models.current if services.models else None
        assert models is not None
        try:
            with refusals_as_pages():
                qualify_lead(
                    services,
                    store,
                    models,
                    number,
                    parsed.bant,
                    parsed.questionnaire,
                    session.caller,
                )
        except ApiError as error:
            if error.status_code != 422:
                raise
            errors = field_errors(error.extra.get("errors", []))
    if not errors:
        return RedirectResponse(f"/app/leads/{number}?saved=1#result", status_code=303)
    with refusals_as_pages():
        lead = lead_detail(store.lead(number), page_locale(request))
    service = submitted.get("questionnaire.service") or None
    chosen = choose_service(services.catalog, service)
    form = qualification_form(services.catalog, chosen, submitted, errors, page_words(request))
    return _page(request, services, session, lead, form, status_code=422)


@router.post("/{lead_id}/status")
async def post_status(
    request: Request,
    lead_id: str,
    session: MovingStatus,
    services: PageServices,
    store: PageStore,
) -> Response:
    number, problem = await move_from_form(request, services, store, lead_id, session.caller)
    if problem is None:
        return RedirectResponse(f"/app/leads/{number}#status", status_code=303)
    with refusals_as_pages():
        lead = lead_detail(store.lead(number), page_locale(request))
    form = _form_for(request, services, lead, None)
    return _page(request, services, session, lead, form, status_problem=problem, status_code=422)
