"""A redis-server of a test's own, which the test may kill, stop and restart.

The shared Redis of the test machine must never be restarted; tests of outages and restarts run
their own. ``durable=True`` keeps every acknowledged write in an append-only file
(``appendfsync always``) so a restart loses nothing; otherwise it saves only when told.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from .processes import free_port

__all__ = ["PrivateRedis"]


@dataclass
class PrivateRedis:
    directory: Path
    durable: bool = False
    port: int = 0
    process: "subprocess.Popen[bytes] | None" = None

    def __post_init__(self) -> None:
        if not self.port:
            self.port = free_port()

    @property
    def config(self) -> dict[str, object]:
        """A ``redis`` config section for a gateway using this server."""
        return {"host": "127.0.0.1", "port": self.port}

    def start(self) -> "PrivateRedis":
        server = shutil.which("redis-server") or "/usr/bin/redis-server"
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.durable else ["--appendonly", "no"]
        self.process = subprocess.Popen(
            [server, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory), "--save", ""]
            + persistence
            + ["--daemonize", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return self
                except (redis.ConnectionError, redis.BusyLoadingError):
                    if time.monotonic() > deadline or self.process.poll() is not None:
                        raise RuntimeError(f"redis-server on port {self.port} did not start") from None
                    time.sleep(0.02)
        finally:
            client.close()

    def save(self) -> None:
        client = redis.Redis(host="127.0.0.1", port=self.port)
        try:
            client.save()
        finally:
            client.close()

    def stop(self) -> None:
        """SIGTERM and wait, as a restart does (a durable server keeps what it acknowledged)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
