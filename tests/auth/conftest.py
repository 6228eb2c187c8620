"""The admin UI fixtures (a live app with a signed-in user, a real chromium)."""

from tests.web.conftest import browser, page, ui

__all__ = ["browser", "page", "ui"]
