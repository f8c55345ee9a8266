"""The web pages' browser (``aiproxy_sdk.browser``): a real Chromium whose requests beyond loopback
are aborted and reported, so a page that loads anything from a CDN fails its test."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from aiproxy_sdk.browser import Browser, is_loopback_url
from aiproxy_sdk.live import ServerThread

PAGE = """<!doctype html><html><head><title>t</title>
<script src="https://cdn.example.com/lib.js"></script></head><body><p id="p">local</p></body></html>"""


def test_which_urls_count_as_loopback():
    assert is_loopback_url("http://127.0.0.1:8080/x") and is_loopback_url("http://acme.localhost:8081/-/portal")
    assert is_loopback_url("http://[::1]/") and is_loopback_url("data:image/png;base64,AA")
    assert not is_loopback_url("https://cdn.jsdelivr.net/npm/swagger-ui-dist") and not is_loopback_url("http://10.0.0.1/")


async def test_a_page_reaching_a_cdn_is_caught(aiproxy_browser):
    async def page(request):  # type: ignore[no-untyped-def]
        return HTMLResponse(PAGE)

    async def clean(request):  # type: ignore[no-untyped-def]
        return HTMLResponse('<!doctype html><p id="p">local</p>')

    with ServerThread(Starlette(routes=[Route("/", page), Route("/clean", clean)])) as url:
        async with Browser() as browser:
            tab = await browser.new_page()
            await tab.goto(url + "/")
            assert await tab.text_content("#p") == "local"
        assert browser.outside == ["https://cdn.example.com/lib.js"]
        # The fixture's own browser, on a page that stays local, ends the test clean.
        tab = await aiproxy_browser.new_page()
        await tab.goto(url + "/clean")
        assert await tab.text_content("#p") == "local"
    assert aiproxy_browser.outside == []
