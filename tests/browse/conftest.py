"""Browser fixtures for the browsing pages: the same live server, viewports and checks as
tests/browser (imported, so a run of both packages starts one server per package)."""

from tests.browser.conftest import live_server, page, sample, site, viewport  # noqa: F401
