"""A real headless Chromium for tests of the gateway's web pages, that proves nothing leaves loopback.

Debian's ``chromium`` driven by Playwright (its own browser download is never used). Every request
the page makes is recorded; :meth:`Browser.new_page` routes it, aborting (and remembering) any to
a host that is not loopback, so a page that would load a script from a CDN fails visibly and the
test can assert :attr:`Browser.outside` is empty. Tenant hosts should be ``<subdomain>.localhost``
(``server.base_domain: localhost``), which Chromium resolves to loopback by itself.
"""

from __future__ import annotations

import ipaddress
import shutil
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Browser", "chromium_path", "is_loopback_url"]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def is_loopback_url(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    host = (parts.hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Browser:
    """``async with Browser() as browser: page = await browser.new_page()``."""

    def __init__(self) -> None:
        self.requested: list[str] = []
        #: Requests to anywhere but loopback, aborted.
        self.outside: list[str] = []
        self._playwright: Any = None
        self._browser: Any = None

    async def __aenter__(self) -> "Browser":
        from playwright.async_api import async_playwright

        path = chromium_path()
        if path is None:
            raise RuntimeError("no chromium on this machine: scripts/ensure_chromium.sh installs Debian's")
        self._playwright = await async_playwright().start()
        self._browser = await self._playwright.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox"])
        return self

    async def new_page(self, **options: Any) -> Any:
        """A page in a fresh context (no cookies or storage shared with other pages)."""
        context = await self._browser.new_context(**options)

        async def guard(route: Any) -> None:
            url = route.request.url
            self.requested.append(url)
            if is_loopback_url(url):
                await route.continue_()
            else:
                self.outside.append(url)
                await route.abort()

        await context.route("**/*", guard)
        return await context.new_page()

    async def __aexit__(self, *exc: object) -> None:
        if self._browser is not None:
            await self._browser.close()
        if self._playwright is not None:
            await self._playwright.stop()
