"""The Admin API."""

from .app import build_admin_app

__all__ = ["build_admin_app"]
