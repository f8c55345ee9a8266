"""What the cookbook's Python recipes share: a scratch directory, the mock upstream, gateways of
their own, Admin API calls that fail loudly, and a check that a recipe wrote nothing in the checkout.

Every recipe script puts this folder on ``sys.path`` and runs its steps inside ``scratch()``:

    with scratch() as work, mock_upstream() as mock, gateway(work) as gw:
        admin = Admin(gw.admin_url)
        tenant = admin.tenant("Acme", "acme")
        ...

Promises every recipe keeps through these helpers:

- **It talks only to servers it started.** The mock upstream runs in the recipe's own process on a
  socket it bound itself (port 0: no other server can hold it). A gateway is started as
  ``python -m aiproxy_core.cli.main serve`` (the interpreter running the recipe, so the ``aiproxy``
  of the same install; the SDK's ``GatewayProcess``) on two free ports that are checked first: if
  anything answers on one, the recipe stops. Once up, the gateway's ``/healthz`` must name this recipe's own store (its SQLite
  file in the scratch directory, or its Redis key prefix), or the recipe stops.
- **It writes nothing into the repository.** State, configs and logs live in a temporary
  directory removed at exit (also on Ctrl-C or SIGTERM).
- **It fails loudly.** An unexpected answer prints the API's own error message (the envelope's
  ``error.message`` and ``code``) and the script exits with status 1.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from aiproxy_sdk import GatewayProcess

REPO = Path(__file__).resolve().parent.parent


class RecipeFailed(SystemExit):
    """Stops the recipe with status 1 after printing why (the API's own message)."""

    def __init__(self, message: str) -> None:
        print(f"recipe failed: {message}", file=sys.stderr, flush=True)
        super().__init__(1)


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def show(label: str, value: Any) -> None:
    text = value if isinstance(value, str) else json.dumps(value)
    print(f"{label}: {text}", flush=True)


def error_text(response: httpx.Response) -> str:
    """The gateway's error envelope as one line: status, code and message (else the body's start)."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict):
        return f"{response.status_code} {error.get('code') or error.get('type')}: {error.get('message')}"
    return f"{response.status_code}: {response.text[:500]}"


def expect(response: httpx.Response, status: int | tuple[int, ...] = (200, 201, 204), what: str = "") -> httpx.Response:
    """``response`` when its status is one of ``status``; else the recipe stops with the API's message."""
    wanted = (status,) if isinstance(status, int) else status
    if response.status_code not in wanted:
        call = what or f"{response.request.method} {response.request.url.path}"
        raise RecipeFailed(f"{call} answered {error_text(response)} (expected {', '.join(map(str, wanted))})")
    return response


# -- the scratch directory -------------------------------------------------------------------------


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    """A temporary directory for state, configs and logs, removed at exit (SIGTERM included)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # runs the cleanups below, unlike the default
    with tempfile.TemporaryDirectory(prefix="aiproxy-recipe-") as path:
        yield Path(path)


# -- servers ----------------------------------------------------------------------------------------


def port_answers(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


@contextlib.contextmanager
def mock_upstream(**options: Any) -> Iterator[str]:
    """aiproxy's mock upstream (OpenAI's and Anthropic's APIs, ``X-Mock-*`` faults), served from
    this process on a port bound here; yields its base URL ``http://127.0.0.1:<port>``."""
    from aiproxy_core import create_mock_upstream
    from aiproxy_sdk import ServerThread

    quiet = _MockFaultsExpected()
    logging.getLogger("uvicorn.error").addFilter(quiet)
    try:
        with ServerThread(create_mock_upstream(**options)) as url:
            yield url
    finally:
        logging.getLogger("uvicorn.error").removeFilter(quiet)


class _MockFaultsExpected(logging.Filter):
    """A stream the mock cuts on purpose (``X-Mock-Fault``) is no error of the recipe's."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing response" not in record.getMessage()


def start_gateway(work: Path, config: dict[str, Any], name: str = "gateway", timeout: float = 60) -> GatewayProcess:
    """``aiproxy serve`` (``python -m aiproxy_core.cli.main serve`` of the interpreter running the
    recipe) with ``config`` (a dict of the YAML) on two free ports, checked first, its files in
    ``work``. Embedded (no ``redis`` section) its SQLite file is ``work/<name>.db``."""
    server = {"admin_host": "127.0.0.1", "proxy_host": "127.0.0.1", "base_domain": "localhost", **config.get("server", {})}
    config = {"logging": {"level": "warning"}, **config, "server": server}
    if "redis" in config:
        own_store = f"prefix {config['redis']['prefix']}"
    else:
        config["storage"] = {"path": str(work / f"{name}.db")}
        own_store = str(work / f"{name}.db")
    gw = GatewayProcess(config, workdir=work)  # lets rules target loopback, where the recipes' upstreams run
    for port in (gw.admin_port, gw.proxy_port):
        if port_answers(port):
            raise RecipeFailed(f"something already answers on 127.0.0.1:{port}; not starting a gateway there")
    try:
        gw.start(timeout)
    except RuntimeError as exc:
        raise RecipeFailed(f"{name} did not start: {exc}") from None
    store = httpx.get(gw.admin_url + "/healthz", timeout=5).json().get("store", "")
    if not str(store).endswith(own_store):
        gw.stop()
        raise RecipeFailed(f"the gateway on {gw.admin_url} is not the one this recipe started (its store: {store!r})")
    return gw


@contextlib.contextmanager
def gateway(work: Path, config: dict[str, Any] | None = None, name: str = "gateway") -> Iterator[GatewayProcess]:
    with gateways(work, (config or {}, name)) as (gw,):
        yield gw


@contextlib.contextmanager
def gateways(work: Path, *configs: tuple[dict[str, Any], str]) -> Iterator[list[GatewayProcess]]:
    """Several gateways, (config, name) each, started side by side; all stopped at exit."""
    started: dict[int, GatewayProcess] = {}

    def start(index: int, config: dict[str, Any], name: str) -> None:
        started[index] = start_gateway(work, config, name)

    try:
        with ThreadPoolExecutor(len(configs)) as pool:
            futures = [pool.submit(start, index, config, name) for index, (config, name) in enumerate(configs)]
        for future in futures:
            future.result()  # a gateway that did not start stops the recipe (RecipeFailed)
        yield [started[index] for index in range(len(configs))]
    finally:
        for gw in started.values():
            gw.stop()


# -- the Admin and Proxy APIs ------------------------------------------------------------------------


@dataclass
class Tenant:
    id: str
    subdomain: str
    auth: dict[str, str]  # the tenant's own key as an Authorization header

    @property
    def host(self) -> str:
        return f"{self.subdomain}.localhost"


class Admin:
    """The Admin API of one gateway; every call stops the recipe on an unexpected answer."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=60)

    def call(self, method: str, path: str, tenant: Tenant | None = None, status: int | tuple[int, ...] = (200, 201, 204),
             **kwargs: Any) -> Any:
        headers = {**(tenant.auth if tenant else {}), **kwargs.pop("headers", {})}
        response = expect(self.http.request(method, path, headers=headers, **kwargs), status)
        return response.json() if response.content else None

    def tenant(self, name: str, subdomain: str) -> Tenant:
        made = self.call("POST", "/api/v1/tenants", json={"name": name, "subdomain": subdomain})
        return Tenant(made["id"], subdomain, {"Authorization": f"Bearer {made['api_key']}"})

    def rule(self, tenant: Tenant, rule: dict[str, Any]) -> dict[str, Any]:
        made: dict[str, Any] = self.call("POST", f"/api/v1/tenants/{tenant.id}/rules", tenant, json=rule)
        return made

    def consumer_key(self, tenant: Tenant, name: str, **fields: Any) -> tuple[str, dict[str, Any]]:
        """A new consumer and its first key: (consumer id, the key's answer with ``key`` and ``id``)."""
        consumer = self.call("POST", f"/api/v1/tenants/{tenant.id}/consumers", tenant, json={"name": name, **fields})
        key = self.call("POST", f"/api/v1/tenants/{tenant.id}/consumers/{consumer['id']}/keys", tenant, json={})
        return consumer["id"], key


def proxy_client(gw: GatewayProcess, tenant: Tenant, key: str, **kwargs: Any) -> httpx.Client:
    """An httpx client for the tenant's Proxy API with a key (the tenant is picked by Host)."""
    headers = {"Host": tenant.host, "Authorization": f"Bearer {key}", **kwargs.pop("headers", {})}
    return httpx.Client(base_url=gw.proxy_url, headers=headers, timeout=60, **kwargs)


def chat_body(content: str, model: str = "gpt-4o-mini", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


# -- for the recipes' tests ---------------------------------------------------------------------------


def git_status() -> str:
    """``git status --porcelain --ignored`` of the checkout (new files, ignored ones such as ``*.db``
    included; bytecode caches left out), or "" outside git."""
    done = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=REPO, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if "__pycache__" not in line and not line.endswith(".pyc")]
    return "\n".join(lines) if done.returncode == 0 else ""


def run_script(script: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a recipe's script as a user would (this interpreter; cwd: the checkout) and check that it
    left the checkout as it was."""
    before = git_status()
    command = [sys.executable, str(script), *args] if script.suffix == ".py" else ["bash", str(script), *args]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})})
    after = git_status()
    assert after == before, f"the recipe changed the checkout:\nbefore:\n{before}\nafter:\n{after}"
    return done


def lines_starting(output: str, label: str) -> list[str]:
    return [line[len(label) + 2:] for line in output.splitlines() if line.startswith(label + ": ")]
