"""A private PostgreSQL server for tests: Debian's binaries, a temporary data directory, a free
loopback port, trust authentication; stopped (and its files removed) afterwards.

``initdb`` and ``postgres`` refuse to run as root, so as root they run as the ``postgres`` user
(``runuser``). ``scripts/ensure_postgresql.sh`` installs the binaries when they are missing.

    with PrivatePostgresql() as server:
        dsn = server.dsn("postgres")
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from .processes import free_port

__all__ = ["PostgresqlStartError", "PrivatePostgresql", "postgresql_binaries"]

HOST = "127.0.0.1"
USER = "postgres"


class PostgresqlStartError(RuntimeError):
    """The server could not be started (no binaries, or it did not answer in time)."""


def postgresql_binaries() -> Path | None:
    """The newest installed ``/usr/lib/postgresql/<version>/bin``, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(path.split("/")[4]))
    return Path(found[-1]).parent if found else None


class PrivatePostgresql:
    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self.port = 0
        self._directory: Path | None = None
        self._as_postgres: list[str] = []

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@{HOST}:{self.port}/{database}"

    def start(self) -> "PrivatePostgresql":
        binaries = postgresql_binaries()
        if binaries is None:
            raise PostgresqlStartError("no PostgreSQL binaries under /usr/lib/postgresql (run scripts/ensure_postgresql.sh)")
        if os.geteuid() == 0:
            self._as_postgres = ["runuser", "-u", USER, "--"]
        self._directory = Path(tempfile.mkdtemp(prefix="aiproxy-pg-"))
        data = self._directory / "data"
        if self._as_postgres:
            shutil.chown(self._directory, USER)
        self.port = free_port()
        self._binaries = binaries
        self._run([str(binaries / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "--no-sync", "-E", "UTF8"])
        self._start_server()
        return self

    def stop(self) -> None:
        if self._directory is None:
            return
        self.kill()
        shutil.rmtree(self._directory, ignore_errors=True)
        self._directory = None

    def kill(self) -> None:
        """Stop the server now (immediate shutdown), keeping its files: ``restart`` brings it back."""
        assert self._directory is not None
        subprocess.run(
            [*self._as_postgres, str(self._binaries / "pg_ctl"), "-D", str(self._directory / "data"), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
        )  # fails harmlessly when it is not running

    def restart(self) -> None:
        """Stop the server if it runs (its clients lose their connections) and start it on its port."""
        self.kill()
        self._start_server()

    def _start_server(self) -> None:
        assert self._directory is not None
        options = f"-p {self.port} -k {self._directory} -c listen_addresses={HOST} -c fsync=off -c full_page_writes=off"
        log = str(self._directory / "server.log")
        self._run([str(self._binaries / "pg_ctl"), "-D", str(self._directory / "data"), "-o", options, "-l", log, "-w", "-t", str(int(self.timeout)), "start"])
        self._wait_until_it_answers()

    def create_database(self) -> str:
        """A new, empty database's name (callable from async tests: it runs in a thread)."""
        database = "t_" + uuid.uuid4().hex[:12]
        self._admin(f"CREATE DATABASE {database}")
        return database

    def drop_database(self, database: str) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")

    def _admin(self, statement: str) -> None:
        import asyncpg

        async def run() -> None:
            conn = await asyncpg.connect(self.dsn("postgres"))
            try:
                await conn.execute(statement)
            finally:
                await conn.close()

        # Its own loop in its own thread: the caller may be inside a running loop (an async fixture).
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, run()).result(timeout=self.timeout)

    def __enter__(self) -> "PrivatePostgresql":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self, command: list[str]) -> None:
        result = subprocess.run([*self._as_postgres, *command], capture_output=True, text=True, timeout=self.timeout)
        if result.returncode != 0:
            log = self._directory / "server.log" if self._directory else None
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise PostgresqlStartError(f"{Path(command[0]).name} failed ({result.returncode}): {result.stderr.strip()[-2000:]} {tail}")

    def _wait_until_it_answers(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((HOST, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise PostgresqlStartError(f"PostgreSQL did not answer on {HOST}:{self.port} within {self.timeout:g} s")
