"""A real Redis Cluster of a test session's own: three masters on free loopback ports.

Code that must run on a Redis Cluster (every script and MULTI within one hash slot, SCAN over
every node) is only proven on a real one: redis-server's cluster mode refuses a cross-slot
command with CROSSSLOT and sends a key of another node's slot elsewhere with MOVED, which a
single server never does. This starts ``redis-server --cluster-enabled yes`` three times in a
temporary directory, joins them with ``redis-cli --cluster create`` (no replicas) and waits
until every node reports ``cluster_state:ok``; :meth:`PrivateCluster.stop` kills them and
removes the directory. Every wait is bounded and a failure says which node did what, with the
tail of its log.
"""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

if TYPE_CHECKING:
    from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
    from redis.cluster import RedisCluster

__all__ = ["ClusterNode", "ClusterStartError", "PrivateCluster", "cluster_binaries_missing"]

HOST = "127.0.0.1"
#: A node's cluster bus listens on its port + 10000, so a port must leave room for it.
_BUS_OFFSET = 10000
_NO_RETRY = Retry(NoBackoff(), 0)
_STARTS = 3  # attempts with fresh ports: a port found free may be taken before redis binds it


class ClusterStartError(RuntimeError):
    """The cluster did not come up; the message says which step failed and why."""


@dataclass(frozen=True)
class ClusterNode:
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def cluster_binaries_missing() -> str | None:
    """None when redis-server and redis-cli are on PATH, else what is missing and how to get it."""
    missing = [name for name in ("redis-server", "redis-cli") if shutil.which(name) is None]
    if not missing:
        return None
    return f"{' and '.join(missing)} not found on PATH (scripts/ensure_redis.sh installs the redis-server package)"


@dataclass
class PrivateCluster:
    """``PrivateCluster().start()``; ``client()`` for an asyncio RedisCluster; ``stop()`` at the end."""

    masters: int = 3
    timeout: float = 30.0
    directory: Path | None = None
    nodes: list[ClusterNode] = field(default_factory=list)
    _processes: "list[subprocess.Popen[bytes]]" = field(default_factory=list)
    _own_directory: bool = False

    # -- what tests use ---------------------------------------------------------------------------

    @property
    def startup_node(self) -> ClusterNode:
        """Any node will do: a cluster client learns the others from it (CLUSTER SLOTS)."""
        return self.nodes[0]

    def client(self, **options: Any) -> "AsyncRedisCluster":
        """A new asyncio cluster client, like the store's (``decode_responses=True``); close it with ``aclose()``.

        One per event loop: an asyncio client belongs to the loop that first uses it. Its pool
        per node is as unbounded as a plain ``redis.asyncio.Redis``'s (``max_connections``):
        redis-py's cluster pool does not wait for a free connection at its limit (100 by
        default) but raises MaxConnectionsError, so 200 concurrent calls on one tenant (one
        node) would fail on the client, not on the code under test.
        """
        from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

        node = self.startup_node
        options = {"decode_responses": True, "max_connections": 2**31, **options}
        return AsyncRedisCluster(host=node.host, port=node.port, **options)

    def sync_client(self) -> "RedisCluster":
        from redis.cluster import RedisCluster

        node = self.startup_node
        return RedisCluster(host=node.host, port=node.port, decode_responses=True)

    def drop_prefix(self, prefix: str) -> int:
        """Delete every key under ``prefix:`` on every master; how many there were."""
        client = self.sync_client()
        try:
            keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
            for key in keys:  # one DEL per key: keys of several slots may not share a command
                client.delete(key)
            return len(keys)
        finally:
            client.close()

    # -- start and stop ---------------------------------------------------------------------------

    def start(self) -> "PrivateCluster":
        missing = cluster_binaries_missing()
        if missing is not None:
            raise ClusterStartError(missing)
        if self.directory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="aiproxy-cluster-"))
            self._own_directory = True
        self.directory.mkdir(parents=True, exist_ok=True)
        atexit.register(self.stop)  # an interrupted session must not leave servers running
        deadline = time.monotonic() + self.timeout
        for attempt in range(1, _STARTS + 1):
            self._launch(_free_node_ports(self.masters))
            try:
                self._wait_for_pings(deadline)
                break
            except ClusterStartError:
                exited = any(process.poll() is not None for process in self._processes)
                self._kill()
                if not exited or attempt == _STARTS:
                    raise
        try:
            self._create(deadline)
            self._wait_for_ok(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Kill the servers and remove their files (node configs, logs); safe to call twice."""
        self._kill()
        if self._own_directory and self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
        atexit.unregister(self.stop)

    def __enter__(self) -> "PrivateCluster":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- the steps --------------------------------------------------------------------------------

    def _launch(self, ports: list[int]) -> None:
        assert self.directory is not None
        server = shutil.which("redis-server") or "redis-server"
        self.nodes = [ClusterNode(HOST, port) for port in ports]
        for port in ports:
            self._processes.append(
                subprocess.Popen(
                    [
                        server,
                        "--port", str(port),
                        "--bind", HOST,
                        "--dir", str(self.directory),
                        "--cluster-enabled", "yes",
                        "--cluster-config-file", f"nodes-{port}.conf",
                        # Well above any stall of a loaded test machine: a node thought dead would
                        # take its slots with it (there are no replicas) and fail the cluster.
                        "--cluster-node-timeout", "15000",
                        "--appendonly", "no",
                        "--save", "",
                        "--logfile", f"redis-{port}.log",
                        "--daemonize", "no",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )

    def _wait_for_pings(self, deadline: float) -> None:
        for node, process in zip(self.nodes, self._processes):
            # No retries of its own (redis-py backs off for seconds): this loop polls, and a
            # server that exited is seen at once.
            client = redis.Redis(host=node.host, port=node.port, socket_connect_timeout=0.5, socket_timeout=2, retry=_NO_RETRY)
            try:
                while True:
                    try:
                        client.ping()
                        break
                    except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError) as exc:
                        if process.poll() is not None:
                            raise ClusterStartError(
                                f"redis-server for cluster node {node.address} exited with status"
                                f" {process.returncode} before answering{self._log_tail(node)}"
                            ) from None
                        if time.monotonic() > deadline:
                            raise ClusterStartError(
                                f"cluster node {node.address} did not answer PING within {self.timeout:g} s"
                                f" ({type(exc).__name__}: {exc}){self._log_tail(node)}"
                            ) from None
                        time.sleep(0.02)
            finally:
                client.close()

    def _create(self, deadline: float) -> None:
        cli = shutil.which("redis-cli") or "redis-cli"
        command = [cli, "--cluster", "create", *(node.address for node in self.nodes), "--cluster-replicas", "0", "--cluster-yes"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired as exc:
            raise ClusterStartError(f"`{' '.join(command)}` did not finish within {self.timeout:g} s: {exc.stdout!r:.500}") from None
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip()[-1500:]
            raise ClusterStartError(f"`{' '.join(command)}` failed with status {done.returncode}:\n{output}")

    def _wait_for_ok(self, deadline: float) -> None:
        """Every node sees every slot assigned and all the others: a client may start at any of them."""
        for node in self.nodes:
            client = redis.Redis(host=node.host, port=node.port, socket_timeout=2, decode_responses=True, retry=_NO_RETRY)
            try:
                info: dict[str, object] = {}
                while True:
                    try:
                        info = client.cluster("INFO")
                    except redis.RedisError as exc:
                        info = {"error": f"{type(exc).__name__}: {exc}"}
                    if (
                        info.get("cluster_state") == "ok"
                        and int(str(info.get("cluster_slots_ok", 0))) == 16384
                        and int(str(info.get("cluster_known_nodes", 0))) == len(self.nodes)
                    ):
                        break
                    if time.monotonic() > deadline:
                        raise ClusterStartError(
                            f"cluster node {node.address} did not reach cluster_state:ok with all 16384 slots and"
                            f" {len(self.nodes)} known nodes within {self.timeout:g} s (CLUSTER INFO: {info})"
                            f"{self._log_tail(node)}"
                        )
                    time.sleep(0.05)
            finally:
                client.close()

    def _kill(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.kill()
        for process in self._processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - a SIGKILLed process that lingers
                pass
        self._processes.clear()

    def _log_tail(self, node: ClusterNode) -> str:
        if self.directory is None:
            return ""
        log = self.directory / f"redis-{node.port}.log"
        try:
            lines = log.read_text(errors="replace").splitlines()[-8:]
        except OSError:
            return ""
        return "; its log ends:\n" + "\n".join(lines) if lines else ""


def _free_node_ports(count: int) -> list[int]:
    """``count`` loopback ports whose cluster-bus port (+10000) is free too."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            port = sock.getsockname()[1]
        if port + _BUS_OFFSET > 65535 or port in ports or not _free(port + _BUS_OFFSET):
            continue
        ports.append(port)
    return ports


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True
