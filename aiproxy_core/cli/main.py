"""The ``aiproxy`` command: ``serve``, ``plugins``, ``install``, ``config-reference``, ``mock-upstream``; ``--version``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ..config import GatewayConfig, load_config
from ..errors import ConfigError, PluginLoadError

DEFAULT_CONFIG = "config.yaml"


def _config(path: str | None) -> GatewayConfig:
    """``--config``, else ``$AIPROXY_CONFIG``, else ``./config.yaml`` if there is one, else defaults."""
    path = path or os.environ.get("AIPROXY_CONFIG")
    if path is None and Path(DEFAULT_CONFIG).is_file():
        path = DEFAULT_CONFIG
    return load_config(path)


def cmd_serve(args: argparse.Namespace) -> int:
    from ..server.log_setup import configure_logging
    from ..server.workers import run

    config = _config(args.config)
    configure_logging(config.logging)
    on_started = None
    if args.demo:
        from ..server.demo import demo_banner, seed_demo, start_mock_upstream

        if args.workers > 1:
            raise ConfigError("--demo runs a single process; leave out --workers")
        mock_port = start_mock_upstream(args.mock_port, config.logging)

        async def on_started(gateway):  # type: ignore[no-untyped-def]
            print(demo_banner(gateway, await seed_demo(gateway, mock_port), mock_port), flush=True)

    server = config.server
    print(
        f"aiproxy: Admin API on http://{server.admin_host}:{server.admin_port}, "
        f"Proxy API on http://{server.proxy_host}:{server.proxy_port} (tenants at <subdomain>.{server.base_domain}); "
        f"state in {'Redis ' + config.redis.host + ':' + str(config.redis.port) if config.redis else 'SQLite ' + config.storage.path}",
        flush=True,
    )
    return run(config, args.workers, on_started)


def cmd_plugins(args: argparse.Namespace) -> int:
    from ..plugins import PluginRegistry

    registry = PluginRegistry()
    registry.load_entry_points()
    infos = registry.describe()
    if args.json:
        print(json.dumps([info.as_dict() for info in infos], indent=2))
        return 0
    if not infos:
        print("No plugins installed. Install one, e.g.: pip install -e aiproxy_plugins/rate_limiter")
        return 0
    for info in infos:
        if info.error is not None:
            print(f"{info.name}  FAILED TO LOAD: {info.error}")
            continue
        fields = sorted((info.settings_schema or {}).get("properties", {}))
        print(f"{info.name} {info.version or ''}".rstrip())
        print(f"  hooks:    {', '.join(info.hooks) or '-'}")
        print(f"  settings: {', '.join(fields) or '-'}")
        if info.config_schema is not None:
            options = sorted(info.config_schema.get("properties", {}))
            print(f"  config:   {', '.join(f'plugins.{info.name}.{option}' for option in options) or '-'}")
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    from ..bundles import BUNDLES, install, pip_commands, with_requirements

    if args.list or (not args.bundle and not args.plugins):
        for bundle in BUNDLES.values():
            print(f"{bundle.name:<12} {', '.join(bundle.plugins)}\n{'':<12} {bundle.description}")
        return 0
    plugins = list(args.plugins)
    for name in args.bundle or []:
        if name not in BUNDLES:
            raise ConfigError(f"no bundle named {name!r}; bundles: {', '.join(BUNDLES)} (see: aiproxy install --list)")
        plugins += [p for p in BUNDLES[name].plugins if p not in plugins]
    plugins = with_requirements(plugins)
    try:
        commands = pip_commands(plugins, args.source, os.environ.get("TORCH_INDEX_URL") or None)
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from None
    for command in commands:
        print("$ " + " ".join(command), flush=True)
    if args.dry_run:
        return 0
    status = install(plugins, args.source)
    if status != 0:
        print(f"aiproxy: pip failed (exit {status}); the plugins are not installed", file=sys.stderr)
        return status
    print(f"installed: {', '.join(plugins)}. Check with: aiproxy plugins; a running gateway loads them when restarted")
    return 0


def cmd_config_reference(args: argparse.Namespace) -> int:
    from ..config.reference import config_reference
    from ..plugins import PluginRegistry

    registry = PluginRegistry()
    registry.load_entry_points()
    models = {name: model for name in registry.names() if (model := registry.config_model(name)) is not None}
    text = config_reference(models)
    if args.write is None:
        print(text, end="")
        return 0
    Path(args.write).write_text(text)
    print(f"wrote {args.write} (the core and {len(models)} installed plugins with options: {', '.join(sorted(models)) or 'none'})")
    return 0


def cmd_mock_upstream(args: argparse.Namespace) -> int:
    from ..mock_upstream.running import run_mock_upstream

    run_mock_upstream(args.host, args.port, args.latency_ms, args.error_rate, args.stream_delay_ms)
    return 0


class _PrintVersions(argparse.Action):
    """``--version``: computed when asked, not each time the parser is built."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="print the installed versions of aiproxy-core, the SDK and the plugins")

    def __call__(self, parser: argparse.ArgumentParser, namespace: object, values: object, option_string: str | None = None) -> None:
        from .versions import version_text

        print(version_text())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aiproxy", description="aiproxy: a pluggable AI API gateway")
    parser.add_argument("-V", "--version", action=_PrintVersions)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the Admin and Proxy listeners")
    serve.add_argument("--config", metavar="FILE", help="config file (default: $AIPROXY_CONFIG or ./config.yaml)")
    serve.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes (needs Redis when N > 1)")
    serve.add_argument("--demo", action="store_true", help="also run the mock upstream and seed a 'demo' tenant")
    serve.add_argument("--mock-port", type=int, default=9100, metavar="PORT", help="with --demo: the mock upstream's port (default 9100)")
    serve.set_defaults(func=cmd_serve)

    plugins = commands.add_parser("plugins", help="list installed plugins, their hooks and settings")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    plugins.set_defaults(func=cmd_plugins)

    install = commands.add_parser("install", help="install plugins or a named bundle of them")
    install.add_argument("plugins", nargs="*", metavar="PLUGIN", help="plugin names, e.g. rate_limiter")
    install.add_argument("--bundle", action="append", metavar="NAME", help="a named set of plugins (repeatable)")
    install.add_argument("--list", action="store_true", help="list the bundles")
    install.add_argument(
        "--source",
        choices=("auto", "repo", "index"),
        default="auto",
        help="repo: this checkout's aiproxy_plugins/ folders; index: the package index; auto: repo when present",
    )
    install.add_argument("--dry-run", action="store_true", help="print the pip command without running it")
    install.set_defaults(func=cmd_install)

    reference = commands.add_parser(
        "config-reference", help="print every config key with its type, default and meaning (Markdown; installed plugins included)"
    )
    reference.add_argument("--write", metavar="FILE", help="write it to FILE instead (docs/configuration.md in the repository)")
    reference.set_defaults(func=cmd_config_reference)

    mock = commands.add_parser("mock-upstream", help="run a local OpenAI-compatible upstream for demos and tests")
    mock.add_argument("--host", default="127.0.0.1")
    mock.add_argument("--port", type=int, default=9100)
    mock.add_argument("--latency-ms", type=float, default=0.0, help="delay before every response")
    mock.add_argument("--error-rate", type=float, default=0.0, help="fraction (0..1) of requests answered with 500")
    mock.add_argument("--stream-delay-ms", type=float, default=0.0, help="delay between streamed events")
    mock.set_defaults(func=cmd_mock_upstream)
    _plugin_commands(commands)
    return parser


def _plugin_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Subcommands that installed plugins add (their ``cli_commands`` hook)."""
    from ..plugins import PluginRegistry
    from ..plugins.hook_calls import call_now

    registry = PluginRegistry()
    registry.load_entry_points()
    for impl in reversed(registry.manager.hook.cli_commands.get_hookimpls()):  # in registration order
        call_now(impl, {"commands": commands})


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["--version"], ["-V"]):
        # Before build_parser, which loads every installed plugin (the AI ones import torch).
        from .versions import version_text

        print(version_text())
        return 0
    args = build_parser().parse_args(argv)
    try:
        status: int = args.func(args)
        return status
    except ConfigError as exc:
        print(f"aiproxy: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # Output piped into e.g. `head`, which stopped reading: not an error of aiproxy's.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (PluginLoadError, ConnectionError) as exc:
        # Things the operator fixes outside the config file: a plugin's start-up, a server's reach.
        print(f"aiproxy: cannot start: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
