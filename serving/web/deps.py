"""What page routes depend on: the running services, the signed-in person, the role's
permission and, on every POST, the form's CSRF token.

Routes declare them with the ``Annotated`` aliases below, e.g.
``def claim(session: Claiming, services: PageServices) -> Response``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from features.i18n import N_
from serving.api.auth import Permission, roles_allowed
from serving.api.deps import Services, services_of
from serving.store.leads import Store
from serving.web.errors import PageError, SignInRequiredError
from serving.web.sessions import SESSION_COOKIE, WebSession, tokens_match
from serving.web.state import pages_of

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


async def page_services(request: Request) -> Services:
    services = services_of(request)
    if services is None or not services.ready:
        raise PageError(
            503, N_("Starting up"), N_("The service is starting or stopping; try again.")
        )
    return services


PageServices = Annotated[Services, Depends(page_services)]


async def page_store(services: PageServices) -> Store:
    return services.lead_store


PageStore = Annotated[Store, Depends(page_store)]


async def current_session(request: Request) -> WebSession | None:
    """The session of this request's cookie, if it is valid (also kept on request.state)."""
    session = pages_of(request).sessions.codec.load(request.cookies.get(SESSION_COOKIE))
    request.state.web_session = session
    return session


MaybeSignedIn = Annotated[WebSession | None, Depends(current_session)]


async def signed_in(request: Request, session: MaybeSignedIn) -> WebSession:
    if session is None:
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequiredError(back if request.method == "GET" else request.url.path)
    return session


SignedIn = Annotated[WebSession, Depends(signed_in)]


def allowed(action: Permission) -> Callable[[WebSession], Awaitable[WebSession]]:
    """A dependency letting through people whose role may do ``action``; others get the
    403 page."""
    roles = ", ".join(roles_allowed(action))

    async def check(session: SignedIn) -> WebSession:
        if not session.may(action):
            raise PageError(
                403,
                N_("Not for your role"),
                N_("Signed in as {role}, you may not {action}; that needs one of: {roles}."),
                role=session.role.value,
                action=action.value,
                roles=roles,
            )
        return session

    return check


async def csrf_token_of(request: Request) -> str | None:
    """The token a POST presents: the htmx header, else the form's hidden field."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    form = await request.form()
    field = form.get(CSRF_FIELD)
    return field if isinstance(field, str) else None


def csrf_refused() -> PageError:
    """The 403 page of a form whose token is missing or stale."""
    return PageError(
        403,
        N_("Form expired"),
        N_("This form's security token is missing or out of date. Reload the page and try again."),
    )


async def require_csrf(request: Request, session: WebSession) -> None:
    if not tokens_match(session.csrf, await csrf_token_of(request)):
        raise csrf_refused()


def form_action(action: Permission) -> Callable[..., Awaitable[WebSession]]:
    """``allowed(action)`` plus the CSRF check every POST of the pages passes."""
    permitted = allowed(action)

    # a default, not an Annotated alias: the annotation would name a local of this closure
    async def check(request: Request, session: WebSession = Depends(permitted)) -> WebSession:
        await require_csrf(request, session)
        return session

    return check


async def signed_in_form(request: Request, session: SignedIn) -> WebSession:
    """A POST any signed-in person may send (sign-out), CSRF-checked."""
    await require_csrf(request, session)
    return session


QueueViewer = Annotated[WebSession, Depends(allowed(Permission.READ_QUEUE))]
LeadViewer = Annotated[WebSession, Depends(allowed(Permission.READ_LEADS))]
ReportViewer = Annotated[WebSession, Depends(allowed(Permission.READ_REPORTS))]
Administering = Annotated[WebSession, Depends(allowed(Permission.ADMIN))]
AdminAction = Annotated[WebSession, Depends(form_action(Permission.ADMIN))]
Claiming = Annotated[WebSession, Depends(form_action(Permission.CLAIM))]
Qualifying = Annotated[WebSession, Depends(form_action(Permission.QUALIFY))]
MovingStatus = Annotated[WebSession, Depends(form_action(Permission.CHANGE_STATUS))]
SigningOut = Annotated[WebSession, Depends(signed_in_form)]
