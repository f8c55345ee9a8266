"""OpenAPI 3.1 documents of both APIs, and the explorer that shows them (docs/openapi.md).

* the Admin API's, ``GET /api/v1/openapi.json``, from its routes, the pydantic models its
  endpoints read and answer, and what plugins say of their routes (``admin_openapi`` hook);
* a tenant's, ``GET /-/openapi.json`` on the Proxy API, from the tenant's rules and what the
  plugins of their chains add (``tenant_openapi`` hook);
* Swagger UI at ``/docs`` and ``/-/docs``, its files served from the installed package.
"""

from .endpoints import admin_doc_routes, tenant_openapi_routes

__all__ = ["admin_doc_routes", "tenant_openapi_routes"]
