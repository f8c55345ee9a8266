"""The headers every dashboard answer carries: a Content-Security-Policy of the page's own origin.

The page holds a token able to change every tenant, so a script injected into it would be worth
a lot. Scripts, styles and API calls may come from the Admin listener only (nothing inline, no
CDN, no fonts from the web); Trusted Types refuse every HTML-string sink, so data can only reach
the page as text; no site may frame it (clickjacking), and no form may submit anywhere (a sign-in
form submitted before its script ran would otherwise put the token in a URL).
"""

from __future__ import annotations

__all__ = ["CONTENT_SECURITY_POLICY", "security_headers"]

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ]
)


def security_headers(cache: str) -> dict[str, str]:
    """The headers of one dashboard answer; ``cache`` is its ``Cache-Control``."""
    return {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Cache-Control": cache,
    }
