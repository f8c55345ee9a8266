"""Reaching the gateway from a Starlette request."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request

if TYPE_CHECKING:
    from ..gateway import Gateway


def gateway_of(request: Request) -> "Gateway":
    gateway: Gateway = request.app.state.gateway
    return gateway
