"""``GET /-/portal``: the developer portal's one page, rendered on the server.

Everything on it comes from the tenant's own view (its name, its rules as :mod:`.apis` shows them,
its self-serve switch) and the plugins' section list; every value is HTML-escaped. The script and
style are files of this package (no CDN), and the Content-Security-Policy allows nothing else.
"""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ..tenant_pages.app import tenant_of, view_of
from .apis import PublicApi, public_apis
from .plugin_routes import plugin_sections
from .responses import PAGE_HEADERS
from .sections import PortalSection

__all__ = ["portal_page"]


def _api_row(api: PublicApi) -> str:
    methods = ", ".join(api.methods) if api.methods is not None else "any"
    description = escape(api.description) if api.description else "<span class=\"muted\">no description</span>"
    return (
        f"<tr><td><code>{escape(api.path)}</code></td><td>{escape(methods)}</td>"
        f"<td>{escape(api.client_format)}</td><td>{description}</td></tr>"
    )


def _apis_table(apis: list[PublicApi]) -> str:
    if not apis:
        return "<p>This tenant publishes no API yet.</p>"
    rows = "".join(_api_row(api) for api in apis)
    return (
        "<div class=\"scroll\"><table><caption>APIs you can call with your key</caption>"
        "<thead><tr><th scope=\"col\">Path</th><th scope=\"col\">Methods</th><th scope=\"col\">Format</th>"
        f"<th scope=\"col\">Description</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )


def _section(section: PortalSection, index: int) -> str:
    # The script fills it: it fetches ``data-path`` (with the key when ``data-signed-in``). Public
    # sections stand beside "APIs" (h2); signed-in ones inside "Your account" (h3).
    signed_in = "true" if section.signed_in else "false"
    heading, level = f"portal-section-{index}", 3 if section.signed_in else 2
    return (
        f"<section class=\"plugin-section\" aria-labelledby=\"{heading}\" data-path=\"{escape(section.path)}\" "
        f"data-signed-in=\"{signed_in}\"><h{level} id=\"{heading}\">{escape(section.title)}</h{level}>"
        "<div class=\"section-body\" aria-live=\"polite\"><p class=\"muted\">Loading…</p></div></section>"
    )


def _api_options(apis: list[PublicApi]) -> str:
    options = [
        f"<option value=\"{escape(api.try_path)}\" data-format=\"{escape(api.client_format)}\">{escape(api.try_path)}</option>"
        for api in apis
        if api.methods is None or "POST" in api.methods
    ]
    return "".join(options) or "<option value=\"/v1/chat/completions\" data-format=\"openai\">/v1/chat/completions</option>"


def _signup(self_serve: bool) -> str:
    if not self_serve:
        return ""
    return """
<section id="signup" aria-labelledby="signup-title">
  <h2 id="signup-title">Get a key</h2>
  <p>Sign up on the free plan; your key is shown once, so keep it somewhere safe.</p>
  <form id="signup-form">
    <label for="signup-name">Your name or your app's</label>
    <input id="signup-name" name="name" required maxlength="100" autocomplete="name">
    <button type="submit">Sign up</button>
  </form>
  <div id="signup-result" class="result" aria-live="polite"></div>
</section>"""


def render_page(request: Request) -> str:
    tenant = tenant_of(request)
    apis = public_apis([route.rule for route in view_of(request).routes])
    sections = plugin_sections(request)
    public = "".join(_section(s, i) for i, s in enumerate(sections) if not s.signed_in)
    private = "".join(_section(s, i) for i, s in enumerate(sections) if s.signed_in)
    name = escape(tenant.name)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{name}: developer portal</title>
<link rel="stylesheet" href="/-/portal/assets/portal.css">
<script src="/-/portal/assets/portal.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
  <h1>{name} <span class="muted">developer portal</span></h1>
  <nav aria-label="Portal">
    <a href="#apis">APIs</a> <a href="#try">Try it</a> <a href="#account">Your account</a>
    <a href="/-/docs">API reference</a> <a href="/-/openapi.json">OpenAPI document</a>
  </nav>
</header>
<main id="main">
<section id="apis" aria-labelledby="apis-title">
  <h2 id="apis-title">APIs</h2>
  {_apis_table(apis)}
  <p>Full reference: <a href="/-/docs">interactive docs</a> and the <a href="/-/openapi.json">OpenAPI document</a>.
  Send your key as <code>Authorization: Bearer &lt;key&gt;</code>.</p>
</section>
<div id="public-sections">{public}</div>
<section id="account" aria-labelledby="account-title">
  <h2 id="account-title">Your account</h2>
  <form id="sign-in-form">
    <label for="sign-in-key">Your API key</label>
    <input id="sign-in-key" name="key" type="password" required autocomplete="off" spellcheck="false">
    <button type="submit">Sign in</button>
  </form>
  <p id="sign-in-status" class="result" role="status" aria-live="polite"></p>
  <div id="signed-in" hidden>
    <dl id="me"></dl>
    <button type="button" id="sign-out">Sign out</button>
    <h3>Rotate your key</h3>
    <p>A new key replaces yours; the one you signed in with stops working at once.</p>
    <button type="button" id="rotate">Rotate my key</button>
    <div id="rotate-result" class="result" aria-live="polite"></div>
    {private}
  </div>
</section>
{_signup(tenant.portal.self_serve)}
<section id="try" aria-labelledby="try-title">
  <h2 id="try-title">Try it</h2>
  <form id="try-form">
    <label for="try-key">API key</label>
    <input id="try-key" type="password" required autocomplete="off" spellcheck="false">
    <label for="try-path">API</label>
    <select id="try-path">{_api_options(apis)}</select>
    <label for="try-model">Model</label>
    <input id="try-model" value="gpt-4o-mini" required maxlength="200">
    <label for="try-prompt">Prompt</label>
    <textarea id="try-prompt" rows="3" required maxlength="4000">Hello!</textarea>
    <button type="submit">Send</button>
  </form>
  <h3>Answer</h3>
  <pre id="try-answer" class="answer" aria-live="polite"></pre>
</section>
</main>
<footer><p class="muted">Your key stays in this browser tab (session storage) and is sent only to this site.</p></footer>
</body>
</html>"""


async def portal_page(request: Request) -> Response:
    return HTMLResponse(render_page(request), headers=PAGE_HEADERS)
