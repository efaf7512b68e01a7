"""How the pages refuse: a redirect to the sign-in page, or an HTML error page.

The JSON API's errors stay JSON; only these two exceptions, raised by page routes, are
answered with pages (never a stack trace). A page error's title and message are message ids
of the pages' catalog (marked with ``N_``), put into the page's language when the page is
drawn; a text from elsewhere (the store's, the funnel's refusal) is shown as it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from features.funnel import TransitionError
from features.i18n import N_, Translator
from serving.api.errors import store_status
from serving.store.leads import StoreError
from serving.web.templating import render
from serving.web.words import page_words


class SignInRequiredError(Exception):
    """Nobody is signed in (or the session ended): go to the sign-in page, then back."""

    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.back_to = back_to


class PageError(Exception):
    """An error page: status code, a title and what to do about it (message ids, with
    the message's ``{placeholders}`` as keyword arguments)."""

    def __init__(self, status_code: int, title: str, message: str, **params: object) -> None:
        super().__init__(message.format(**params) if params else message)
        self.status_code = status_code
        self.title = title
        self.message = message
        self.params = params

    def texts(self, translate: Translator) -> tuple[str, str]:
        """(title, message) in ``translate``'s language."""
        message = translate.gettext(self.message)
        return translate.gettext(self.title), message.format(
            **self.params
        ) if self.params else message


def bad_value(title: str, message: str, name: str, value: str, keep: int) -> PageError:
    """The 422 page of a bad query value: ``message`` names the field ``{name}`` and the
    ``{value}`` given, cut to ``keep`` characters."""
    return PageError(422, title, message, name=name, value=value[:keep])


@contextmanager
def refusals_as_pages() -> Iterator[None]:
    """The store's and the funnel's refusals as error pages (404 no such lead, 409)."""
    try:
        yield
    except StoreError as error:
        status = store_status(error)
        title = N_("Not found") if status == 404 else N_("Refused")
        raise PageError(status, title, error.detail) from error
    except TransitionError as error:
        raise PageError(409, N_("Move not allowed"), str(error)) from error


def lead_number(text: str) -> int:
    """A lead id from the path; anything else is a 404 page."""
    if not text.isdigit() or int(text) < 1 or len(text) > 18:
        raise PageError(404, N_("Not found"), N_("There is no lead '{lead}'."), lead=text[:40])
    return int(text)


def signin_url(back_to: str | None = None) -> str:
    return "/signin" if not back_to else f"/signin?next={quote(back_to, safe='/')}"


async def _signin_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequiredError)
    target = signin_url(exc.back_to)
    if request.headers.get("HX-Request"):
        # htmx follows HX-Redirect with a full page load instead of swapping a fragment
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def _page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    title, message = exc.texts(page_words(request))
    context = {"title": title, "message": message, "status_code": exc.status_code}
    return render(request, "error.html", context, exc.status_code)


def install_page_errors(app: FastAPI) -> None:
    app.add_exception_handler(SignInRequiredError, _signin_required)
    app.add_exception_handler(PageError, _page_error)
