"""The web pages: sign-in, the SDR queue, the lead page with its qualification form, and
the API docs, server-rendered with Jinja2 and enhanced with the vendored htmx.

``install_pages(app, services)`` adds them to the service's app (docs/pages.md).
"""

from serving.web.install import install_pages

__all__ = ["install_pages"]
