"""Gateways as separate OS processes (``aiproxy serve``), for promises that must hold across them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml


def run_aiproxy(
    *args: str, cwd: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> "subprocess.CompletedProcess[str]":
    """Run ``aiproxy ARGS...`` (this interpreter's) to completion; its output as text.

    For testing commands as an operator types them, a plugin's ``cli_commands`` included:
    ``run_aiproxy("billing-worker", "--config", path, "--once").stdout``. ``env`` adds variables.
    """
    return subprocess.run(
        [sys.executable, "-m", "aiproxy_core.cli.main", *args],
        capture_output=True, text=True, timeout=timeout, cwd=cwd, env={**os.environ, **(env or {})},
    )


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports. Every socket stays bound until all are picked:
    two ``free_port()`` calls in a row may get the same port back (the first socket is closed
    before the second binds), and a gateway given one port for both listeners cannot start."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class GatewayProcess:
    """``aiproxy serve --config <generated>`` on free loopback ports; stopped with SIGTERM on exit.

    ``config`` is the YAML content as a dict (e.g. with a ``redis`` section shared by several
    processes); the ``server`` ports are filled in. ``args`` go to ``aiproxy serve`` (e.g.
    ``("--workers", "2")``). ``log`` holds what the process printed. Like the harness, it lets rules
    target loopback (``upstream.allowed_networks: ["127.0.0.1/32"]``, where test upstreams run)
    unless ``config`` sets ``upstream.allowed_networks`` itself. ``ports`` (admin, proxy) are for a
    caller that picks other ports too and needs them all distinct (``free_ports(3)``).
    """

    def __init__(
        self,
        config: dict[str, Any],
        *,
        workdir: Path | None = None,
        args: tuple[str, ...] = (),
        ports: tuple[int, int] | None = None,
    ) -> None:
        self._args = args
        self._dir = Path(workdir or tempfile.mkdtemp(prefix="aiproxy-proc-"))
        self.admin_port, self.proxy_port = ports or free_ports(2)
        server = {**config.get("server", {}), "admin_port": self.admin_port, "proxy_port": self.proxy_port}
        upstream = {"allowed_networks": ["127.0.0.1/32"], **config.get("upstream", {})}
        self.config = {**config, "server": server, "upstream": upstream}
        self.admin_url = f"http://127.0.0.1:{self.admin_port}"
        self.proxy_url = f"http://127.0.0.1:{self.proxy_port}"
        self.log = self._dir / f"gateway-{self.proxy_port}.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> "GatewayProcess":
        path = self._dir / f"config-{self.proxy_port}.yaml"
        path.write_text(yaml.safe_dump(self.config))
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with self.log.open("wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "aiproxy_core.cli.main", "serve", "--config", str(path), *self._args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self._dir,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the gateway process exited with {self._process.returncode}:\n{self.log.read_text()}")
            try:
                if httpx.get(self.admin_url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the gateway process did not answer within {timeout}s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def __enter__(self) -> "GatewayProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
