"""Sign-in with an API key, sign-out, ``/`` and the home page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from features.i18n import N_
from serving.api.deps import Services, authenticate
from serving.api.errors import ApiError
from serving.web.cookies import clear_cookie, set_cookie
from serving.web.deps import CSRF_FIELD, MaybeSignedIn, SignedIn, SigningOut
from serving.web.errors import PageError
from serving.web.nav import HOMES
from serving.web.sessions import SESSION_COOKIE, SIGNIN_COOKIE, SIGNIN_TOKEN_SECONDS
from serving.web.state import pages_of
from serving.web.templating import render
from serving.web.words import page_words

router = APIRouter(include_in_schema=False)


def safe_next(target: str | None) -> str | None:
    """Only a path of this site (never another site, ``//host`` or a scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


@router.get("/")
def root(session: MaybeSignedIn) -> RedirectResponse:
    return RedirectResponse(HOMES[session.role] if session else "/signin", status_code=303)


def _signin_page(
    request: Request, back_to: str | None, problem: str | None, status: int
) -> Response:
    pages = pages_of(request)
    token, cookie = pages.sessions.codec.signin_token()
    translate = page_words(request)
    context = {
        "title": translate.gettext(N_("Sign in")),
        "signin_token": token,
        "next": back_to or "",
        "problem": translate.gettext(problem) if problem else None,
    }
    response = render(request, "signin.html", context, status)
    set_cookie(response, request, pages.settings, SIGNIN_COOKIE, cookie, SIGNIN_TOKEN_SECONDS)
    return response


@router.get("/signin")
def signin_page(request: Request, session: MaybeSignedIn, next: str | None = None) -> Response:
    if session is not None:
        return RedirectResponse(safe_next(next) or HOMES[session.role], status_code=303)
    return _signin_page(request, safe_next(next), None, 200)


@router.post("/signin")
def signin(
    request: Request,
    api_key: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    pages = pages_of(request)
    codec = pages.sessions.codec
    if not codec.signin_token_valid(request.cookies.get(SIGNIN_COOKIE), csrf_token):
        return _signin_page(
            request, safe_next(next), N_("The sign-in form expired; try again."), 403
        )
    services: Services = request.app.state.services
    key = api_key.strip()
    if not key:
        return _signin_page(request, safe_next(next), N_("api_key: enter your API key."), 422)
    try:
        # the API's check, with its limit on failed keys per address
        holder = authenticate(request, services, key)
    except ApiError:
        return _signin_page(request, safe_next(next), N_("Unknown API key."), 401)
    except HTTPException as refusal:
        page = _signin_page(request, safe_next(next), str(refusal.detail), refusal.status_code)
        page.headers.update(refusal.headers or {})
        return page
    session = codec.start(key, holder)
    response = RedirectResponse(safe_next(next) or HOMES[holder.role], status_code=303)
    seconds = codec.max_age_seconds
    set_cookie(response, request, pages.settings, SESSION_COOKIE, codec.dump(session), seconds)
    clear_cookie(response, request, pages.settings, SIGNIN_COOKIE)
    return response


@router.post("/signout")
def signout(request: Request, session: SigningOut) -> Response:
    response = RedirectResponse("/signin", status_code=303)
    clear_cookie(response, request, pages_of(request).settings, SESSION_COOKIE)
    return response


@router.get("/app")
def home(request: Request, session: SignedIn) -> Response:
    return render(request, "home.html", {"title": page_words(request).gettext(N_("Home"))})


@router.get("/app/leads")
def find_lead(session: SignedIn, id: str = "") -> Response:
    """The home page's "open a lead" form: to the lead page of that id."""
    if not id.strip().isdigit() or int(id) < 1:
        raise PageError(422, N_("No such lead"), N_("id: expected a lead's number, e.g. 42."))
    return RedirectResponse(f"/app/leads/{int(id)}", status_code=303)
