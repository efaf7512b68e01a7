"""The language switch: ``POST /language`` sets the ``lang`` cookie and goes back to the
page it was sent from. A plain form (no JavaScript), CSRF-checked: the session's token
when someone is signed in, else the sign-in form's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from features.i18n import LOCALES, N_
from serving.web.cookies import set_cookie
from serving.web.deps import CSRF_FIELD, MaybeSignedIn, csrf_refused
from serving.web.errors import PageError
from serving.web.routers.signin import safe_next
from serving.web.sessions import SIGNIN_COOKIE, tokens_match
from serving.web.state import pages_of
from serving.web.words import LANG_COOKIE, LANG_COOKIE_SECONDS

router = APIRouter(include_in_schema=False)


@router.post("/language")
def choose_language(
    request: Request,
    session: MaybeSignedIn,
    lang: Annotated[str, Form(max_length=10)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
) -> Response:
    pages = pages_of(request)
    if session is not None:
        valid = tokens_match(session.csrf, csrf_token)
    else:
        valid = pages.sessions.codec.signin_token_valid(
            request.cookies.get(SIGNIN_COOKIE), csrf_token
        )
    if not valid:
        raise csrf_refused()
    if lang not in LOCALES:
        raise PageError(
            422,
            N_("Unknown language"),
            N_("lang: expected one of {choices}."),
            choices=", ".join(LOCALES),
        )
    response = RedirectResponse(safe_next(next) or "/", status_code=303)
    set_cookie(response, request, pages.settings, LANG_COOKIE, lang, LANG_COOKIE_SECONDS)
    return response
