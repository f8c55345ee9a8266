"""The developer portal at ``/-/portal``: what a tenant's consumers see (APIs, a try-it console,
plans, their own usage), sign-in with a consumer key, key rotation and opt-in self-serve signup.

Plugins add sections and endpoints with the ``portal_routes`` hook, returning
:class:`PortalSection` routes and authenticating with :func:`portal_consumer`.
"""

from .caller import PortalCaller, portal_consumer, portal_tenant
from .routes import portal_routes
from .sections import PORTAL_API, PortalSection

__all__ = ["PORTAL_API", "PortalCaller", "PortalSection", "portal_consumer", "portal_routes", "portal_tenant"]
