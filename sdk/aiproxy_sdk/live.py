"""Real servers on real ports, from a background thread: for tests where the network matters
(streaming arriving event by event, timeouts, the official ``openai`` client)."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import uvicorn

from aiproxy_core import Gateway, GatewayConfig, PluginRegistry, listener_configs


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class _ThreadServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # older uvicorn
        pass


class ServerThread:
    """Serve one ASGI app with uvicorn on a free loopback port until ``stop()``.

    ``with ServerThread(app) as url: ...`` gives ``http://127.0.0.1:<port>``.
    """

    def __init__(self, app: Any, **config: Any) -> None:
        self._sock = _free_socket()
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = _ThreadServer(uvicorn.Config(app, log_level="warning", access_log=False, **config))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    def start(self) -> "ServerThread":
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the server thread died while starting; see the log")
            threading.Event().wait(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> str:
        self.start()
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LiveGateway:
    """A whole gateway (Admin and Proxy listeners) in a background thread with its own loop.

    ``admin_url`` and ``proxy_url`` point at free loopback ports. Proxy calls need the tenant's
    Host, e.g. ``headers={"Host": f"{subdomain}.{config.server.base_domain}"}``.
    """

    def __init__(self, config: GatewayConfig, registry: PluginRegistry | None = None) -> None:
        self.config = config
        self._registry = registry
        self._admin_sock = _free_socket()
        self._proxy_sock = _free_socket()
        self.admin_url = f"http://127.0.0.1:{self._admin_sock.getsockname()[1]}"
        self.proxy_url = f"http://127.0.0.1:{self._proxy_sock.getsockname()[1]}"
        self.gateway: Gateway | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._servers: list[uvicorn.Server] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # surfaced to the test by start()
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.gateway = Gateway(self.config, registry=self._registry)
        # The listeners are on ports picked here, not the config's: rule targets must not reach them either.
        self.gateway.target_policy.refuse_own_endpoint("Admin listener", *self._admin_sock.getsockname()[:2])
        self.gateway.target_policy.refuse_own_endpoint("Proxy listener", *self._proxy_sock.getsockname()[:2])
        await self.gateway.start()
        # The protocol, limits and timeouts of ``aiproxy serve``, from the same config keys.
        admin_config, proxy_config = listener_configs(self.gateway, log_level="warning", access_log=False)
        self._servers = [_ThreadServer(admin_config), _ThreadServer(proxy_config)]
        tasks = [
            asyncio.create_task(self._servers[0].serve([self._admin_sock])),
            asyncio.create_task(self._servers[1].serve([self._proxy_sock])),
        ]
        while not all(s.started for s in self._servers):
            await asyncio.sleep(0.01)
        self._ready.set()
        try:
            await asyncio.gather(*tasks)
        finally:
            await self.gateway.stop()

    def start(self) -> "LiveGateway":
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._error is not None:
            raise RuntimeError(f"the live gateway failed to start: {self._error!r}") from self._error
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.should_exit = True
        self._thread.join(timeout=15)
        self._admin_sock.close()
        self._proxy_sock.close()

    def __enter__(self) -> "LiveGateway":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
