"""The operator dashboard at ``/ui`` on the Admin listener (issue #13).

A static page and its scripts: every figure it shows and every change it makes goes through the
Admin API with the token the user signed in with, so the dashboard can do nothing the API would
not allow that token. See docs/dashboard.md.
"""

from .routes import DASHBOARD_PATH, dashboard_routes

__all__ = ["DASHBOARD_PATH", "dashboard_routes"]
