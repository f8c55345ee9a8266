"""The tenant's own pages on the Proxy API, under the reserved prefix ``/-/``: what a tenant shows
its consumers (the OpenAPI document of its rules, the developer portal). No rule may claim the
prefix, and reading these pages needs no key."""

from .app import TenantPages

__all__ = ["TenantPages"]
