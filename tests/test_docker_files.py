"""The Dockerfile and compose.yaml: what they reference exists, nothing secret is in them, the image
gets the core and exactly the plugins without torch, and the container's start command, run here
with compose's environment against the local Redis, serves ``/healthz``. Docker itself is not run."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from aiproxy_sdk import free_ports

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-admin-token-0123456789"


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions (comments dropped, continued lines joined)."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def copies() -> dict[str, str]:
    """Where each COPY puts what: its path in the image -> its path in the repository."""
    placed = {}
    for keyword, rest in instructions():
        if keyword == "COPY":
            *sources, target = rest.split()
            for source in sources:
                placed[target.rstrip("/") + ("/" + source if target.endswith("/") else "")] = source
    return placed


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def torch_free_plugins() -> set[str]:
    listed = subprocess.run([str(ROOT / "scripts" / "plugin_folders.sh"), "light"], capture_output=True, text=True, check=True)
    return set(listed.stdout.split())


def interpolated(value: str, variables: dict[str, str]) -> str:
    """compose's ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?error}``."""

    def one(match: re.Match[str]) -> str:
        name, operator, word = match.group(1), match.group(2), match.group(3)
        if variables.get(name):
            return variables[name]
        assert operator != ":?", f"compose requires ${name}: {word}"
        return word or ""

    return re.sub(r"\$\{([A-Z0-9_]+)(?:(:[-?])([^}]*))?\}", one, value)


def test_the_image_is_python_311_slim_and_runs_aiproxy_serve_unprivileged():
    keywords = dict(instructions())
    assert next(rest for keyword, rest in instructions() if keyword == "FROM") == "python:3.11-slim"
    command = json.loads(keywords["CMD"])
    assert command[:2] == ["aiproxy", "serve"] and "--config" in command
    assert keywords["USER"] not in ("root", "0")


def test_every_file_the_dockerfile_copies_exists():
    for source in copies().values():
        assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which is not in the repository"
    assert (ROOT / ".dockerignore").is_file()


def test_the_image_installs_the_core_and_exactly_the_plugins_without_torch():
    [install] = [rest for keyword, rest in instructions() if keyword == "RUN" and "pip install" in rest]
    arguments = install.split("&&")[0].split()
    installed = {arg.removeprefix("./") for arg in arguments if arg.startswith("./aiproxy_plugins/")}
    assert "." in arguments
    assert installed == torch_free_plugins()
    assert not any("torch" in rest for _, rest in instructions())


def test_no_secret_is_written_into_the_image_or_compose():
    for keyword, rest in instructions():
        assert not (keyword in ("ENV", "ARG") and re.search(r"TOKEN|PASSWORD|SECRET|KEY", rest)), rest
    for name, service in compose()["services"].items():
        for variable, value in (service.get("environment") or {}).items():
            if re.search(r"TOKEN|PASSWORD|SECRET", variable):
                assert str(value).startswith("${"), f"{name}: {variable} is written in compose.yaml"
    config = yaml.safe_load((ROOT / copies()["/etc/aiproxy/config.yaml"]).read_text())
    assert "admin_token" not in config.get("server", {}) and not config.get("redis", {}).get("password")


def test_compose_builds_this_dockerfile_beside_redis():
    services = compose()["services"]
    assert services["aiproxy"]["build"] == "."
    assert (ROOT / "Dockerfile").is_file()
    assert services["aiproxy"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["redis"]["image"].startswith("redis:")
    config = yaml.safe_load((ROOT / copies()["/etc/aiproxy/config.yaml"]).read_text())
    assert config["redis"]["host"] == "redis"  # the compose service's name
    assert "127.0.0.1:8080:8080" in services["aiproxy"]["ports"]  # the Admin API: this host only


def test_the_start_command_serves_healthz_with_composes_environment(tmp_path, aiproxy_redis_prefix):
    """The container's CMD, run here: its config file from the repository, compose's environment
    (the token from the shell, as compose reads it), and what only differs outside compose: Redis
    on 127.0.0.1 under a test prefix, free ports."""
    command = json.loads(dict(instructions())["CMD"])
    config = command.index("--config") + 1
    command[config] = str(ROOT / copies()[command[config]])
    environment = {
        name: interpolated(str(value), {"AIPROXY_SERVER__ADMIN_TOKEN": TOKEN})
        for name, value in compose()["services"]["aiproxy"]["environment"].items()
    }
    admin_port, proxy_port = free_ports(2)
    environment |= {
        "AIPROXY_REDIS__HOST": "127.0.0.1",
        "AIPROXY_REDIS__PREFIX": aiproxy_redis_prefix,
        "AIPROXY_SERVER__ADMIN_PORT": str(admin_port),
        "AIPROXY_SERVER__PROXY_PORT": str(proxy_port),
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "aiproxy_core.cli.main", *command[1:]],
            stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, env={**os.environ, **environment},
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            try:
                health = httpx.get(f"http://127.0.0.1:{admin_port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        assert health.status_code == 200 and health.json()["status"] == "ok", health.text
        assert "Redis" in health.json()["store"]
        tenants = f"http://127.0.0.1:{admin_port}/api/v1/tenants"
        assert httpx.get(tenants, timeout=5).status_code == 401  # bound beyond loopback: the token is needed
        assert httpx.get(tenants, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    assert "state in Redis 127.0.0.1:6379" in log.read_text()


def test_the_start_command_refuses_to_run_without_the_token(tmp_path):
    command = json.loads(dict(instructions())["CMD"])
    config = command.index("--config") + 1
    command[config] = str(ROOT / copies()[command[config]])
    env = {key: value for key, value in os.environ.items() if key != "AIPROXY_SERVER__ADMIN_TOKEN"}
    refused = subprocess.run([sys.executable, "-m", "aiproxy_core.cli.main", *command[1:]], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)
    assert refused.returncode == 2 and "server.admin_token" in refused.stderr
