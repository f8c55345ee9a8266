"""The aiproxy command as an operator meets it."""

from __future__ import annotations

import json
import subprocess
import sysconfig
import textwrap
import venv
from pathlib import Path

import httpx

from aiproxy_sdk import GatewayProcess, run_aiproxy


def fake_distribution(root, name: str, entry_points: str, module: str | None = None, source: str = "") -> None:
    """An installed distribution (a .dist-info folder on PYTHONPATH) declaring aiproxy entry points."""
    info = root / f"{name}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(entry_points)
    if module:
        (root / f"{module}.py").write_text(textwrap.dedent(source))


def test_plugins_lists_hooks_settings_and_failures(tmp_path):
    fake_distribution(
        tmp_path,
        "aiproxy-sample",
        "[aiproxy]\nsample = sample_plugin\nbroken = module_that_does_not_exist\n",
        "sample_plugin",
        """
        from pydantic import BaseModel
        from aiproxy_core import hookimpl

        class Settings(BaseModel):
            greeting: str = "hi"

        @hookimpl
        def settings_model():
            return Settings

        @hookimpl
        def pre_request(ctx, settings):
            return None
        """,
    )
    env = {"PYTHONPATH": str(tmp_path)}
    listed = run_aiproxy("plugins", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    plugins = {p["name"]: p for p in json.loads(listed.stdout)}
    assert plugins["sample"]["version"] == "1.2.3"
    assert plugins["sample"]["hooks"] == ["pre_request", "settings_model"]
    assert plugins["sample"]["settings_schema"]["properties"]["greeting"]["default"] == "hi"
    assert "ModuleNotFoundError" in plugins["broken"]["error"]

    human = run_aiproxy("plugins", env=env)
    assert "sample 1.2.3" in human.stdout and "settings: greeting" in human.stdout
    assert "broken  FAILED TO LOAD: ModuleNotFoundError" in human.stdout


def test_a_plugin_with_a_wrong_hook_signature_is_reported(tmp_path):
    fake_distribution(
        tmp_path,
        "aiproxy-wrong",
        "[aiproxy]\nwrong = wrong_plugin\n",
        "wrong_plugin",
        """
        from aiproxy_core import hookimpl

        @hookimpl
        def pre_request(ctx, settings, surprise):
            return None
        """,
    )
    listed = json.loads(run_aiproxy("plugins", "--json", env={"PYTHONPATH": str(tmp_path)}).stdout)
    wrong = next(p for p in listed if p["name"] == "wrong")
    assert "surprise" in wrong["error"]


def test_serve_refuses_an_open_admin_listener_without_a_token(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("server: {admin_host: 0.0.0.0, admin_port: 0, proxy_port: 0}\n")
    result = run_aiproxy("serve", "--config", str(config))
    assert result.returncode == 2
    assert "server.admin_token" in result.stderr and "Traceback" not in result.stderr


def test_serve_refuses_workers_without_redis(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("server: {admin_port: 0, proxy_port: 0}\n")
    result = run_aiproxy("serve", "--config", str(config), "--workers", "2")
    assert result.returncode == 2 and "needs a redis section" in result.stderr


def test_serve_reports_a_bad_config_without_a_traceback(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("server: {admin_port: eighty}\n")
    result = run_aiproxy("serve", "--config", str(config))
    assert result.returncode == 2
    assert f"{config}: server.admin_port" in result.stderr and "Traceback" not in result.stderr


def test_serve_with_workers_shares_the_ports_on_redis(tmp_path, aiproxy_redis_prefix):
    config = {"server": {"base_domain": "gw.test"}, "redis": {"host": "127.0.0.1", "port": 6379, "prefix": aiproxy_redis_prefix}}
    with GatewayProcess(config, workdir=tmp_path, args=("--workers", "2")) as gateway:
        tenant = httpx.post(gateway.admin_url + "/api/v1/tenants", json={"name": "W", "subdomain": "w"}).json()
        # Whichever worker answers, it sees the tenant the other one may have created.
        for _ in range(20):
            with httpx.Client() as fresh:  # a new connection each time, so both workers are asked
                assert fresh.get(f"{gateway.admin_url}/api/v1/tenants/{tenant['id']}").status_code == 200
    assert "worker(s) exited with an error" not in gateway.log.read_text()


def test_install_lists_bundles_and_refuses_unknown_ones():
    listed = run_aiproxy("install", "--list")
    assert listed.returncode == 0 and "traffic" in listed.stdout and "rate_limiter, security_validator" in listed.stdout
    unknown = run_aiproxy("install", "--bundle", "nope")
    assert unknown.returncode == 2 and "no bundle named 'nope'" in unknown.stderr


def test_install_builds_the_pip_command_from_repo_or_index():
    repo = run_aiproxy("install", "--bundle", "traffic", "--dry-run", "--source", "repo")
    assert repo.returncode == 0
    assert "-e " in repo.stdout and "aiproxy_plugins/rate_limiter" in repo.stdout and "aiproxy_plugins/security_validator" in repo.stdout
    index = run_aiproxy("install", "--bundle", "seed", "--dry-run", "--source", "index")
    assert "aiproxy-rate-limiter aiproxy-security-validator aiproxy-content-validator" in index.stdout


def throwaway_venv(root: Path) -> Path:
    """A venv in ``root`` that sees this one's packages (pip and aiproxy) but installs into itself.

    ``venv --system-site-packages`` would expose the base interpreter's packages, not this venv's,
    so a .pth file adds this venv's site-packages (its own .pth files run too) after the new one's.
    """
    venv.create(root, with_pip=False)
    python = root / "bin" / "python"
    own_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True, check=True
    ).stdout.strip()
    parent_site = sysconfig.get_paths()["purelib"]
    (Path(own_site) / "zz_parent_environment.pth").write_text(f"import site; site.addsitedir({parent_site!r})\n")
    return python


def installed_here() -> list[tuple[str, int]]:
    """What this environment's site-packages holds, with modification times (a reinstall shows)."""
    return sorted((p.name, p.stat().st_mtime_ns) for p in Path(sysconfig.get_paths()["purelib"]).iterdir())


def test_install_a_bundle_then_plugins_lists_it(tmp_path):
    """The real pip run, into a throwaway venv: the environment running the tests is not changed."""
    parent_info = installed_here()
    python = throwaway_venv(tmp_path / "venv")

    def aiproxy(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(python), "-m", "aiproxy_core.cli.main", *args], capture_output=True, text=True, timeout=300)

    installed = aiproxy("install", "--bundle", "validation", "--source", "repo")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    names = {p["name"] for p in json.loads(aiproxy("plugins", "--json").stdout)}
    assert "content_validator" in names
    # pip installed the bundle's plugin into the throwaway venv (an editable install of this
    # repository's folder), and nothing into the environment the tests run in.
    where = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.distribution('aiproxy-content-validator')._path)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(tmp_path / "venv"), where
    direct_url = json.loads((Path(where) / "direct_url.json").read_text())
    assert direct_url["dir_info"] == {"editable": True} and direct_url["url"].endswith("aiproxy_plugins/content_validator")
    assert installed_here() == parent_info


def test_hook_cli_commands_adds_a_subcommand(tmp_path):
    fake_distribution(
        tmp_path,
        "aiproxy-worker",
        "[aiproxy]\nworker = worker_plugin\n",
        "worker_plugin",
        """
        from aiproxy_core import ConfigError, hookimpl

        def run(args):
            if args.fail:
                raise ConfigError("worker: say what to fix")
            print(f"worker ran with {args.batch}")
            return 0

        @hookimpl
        def cli_commands(commands):
            parser = commands.add_parser("demo-worker", help="a plugin's command")
            parser.add_argument("--batch", type=int, default=10)
            parser.add_argument("--fail", action="store_true")
            parser.set_defaults(func=run)
        """,
    )
    env = {"PYTHONPATH": str(tmp_path)}
    ran = run_aiproxy("demo-worker", "--batch", "3", env=env)
    assert ran.returncode == 0 and "worker ran with 3" in ran.stdout
    assert "demo-worker" in run_aiproxy("--help", env=env).stdout
    failed = run_aiproxy("demo-worker", "--fail", env=env)
    assert failed.returncode == 2 and "worker: say what to fix" in failed.stderr and "Traceback" not in failed.stderr


def test_serve_names_an_unreachable_redis_without_a_traceback(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("server: {admin_port: 0, proxy_port: 0}\nredis: {host: 127.0.0.1, port: 1}\n")
    result = run_aiproxy("serve", "--config", str(config))
    assert result.returncode == 1
    assert "cannot reach Redis at 127.0.0.1:1" in result.stderr and "Traceback" not in result.stderr
