"""Setting and clearing the pages' cookies: HttpOnly, SameSite=Lax, Secure over https (or
as ``LEADSCORE_SECURE_COOKIES`` says), with an expiry."""

from __future__ import annotations

from fastapi import Request, Response

from serving.web.settings import WebSettings


def secure(request: Request, settings: WebSettings) -> bool:
    if settings.secure_cookies is not None:
        return settings.secure_cookies
    return request.url.scheme == "https"


def set_cookie(
    response: Response, request: Request, settings: WebSettings, name: str, value: str, seconds: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=seconds,
        path="/",
        secure=secure(request, settings),
        httponly=True,
        samesite="lax",
    )


def clear_cookie(response: Response, request: Request, settings: WebSettings, name: str) -> None:
    response.delete_cookie(
        name, path="/", secure=secure(request, settings), httponly=True, samesite="lax"
    )
