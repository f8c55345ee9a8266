"""``aiproxy_core.__all__`` is exactly the public API, checked both ways (as httpx's test does).

The public API is: the names in ``aiproxy_core.__all__``, and for the submodules listed there
(``sse``, ``state_keys``, ...) the names in *their* ``__all__``. Everything else is implementation:
the submodules below are how the core is organised, importable by path for the core itself, its CLI
(``python -m aiproxy_core.cli.main``) and its own tests, with no compatibility promise.
``tests/test_plugin_imports.py`` checks that plugins, the SDK and the cookbook use only the public API.
"""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiproxy_core

#: Submodules that are not API, and why they are not underscored: renaming a package that every core
#: module imports buys nothing a test cannot check (tests/test_plugin_imports.py). Adding a module to
#: the core means deciding here: export it (``__all__``) or list it as implementation.
IMPLEMENTATION_MODULES = {
    "admin": "the Admin API app; its helpers plugins need are exported (read_body, UploadRoute, ...)",
    "auth": "key and consumer caches of the Proxy API",
    "bundles": "bundled plugin sets",
    "chain": "the chain executor",
    "cli": "the `aiproxy` command; run as a program, not imported",
    "config": "exported as GatewayConfig, load_config and the section classes",
    "context": "exported as ProxyRequest, ProxyResponse, RequestContext",
    "dashboard": "the operator dashboard at /ui on the Admin listener (static page and assets)",
    "errors": "exported as the error classes",
    "gateway": "exported as Gateway",
    "hookspecs": "exported as hookimpl; the spec is documented in docs/plugin_hooks.md",
    "json_text": "strict JSON parsing of the Proxy API",
    "mock_upstream": "exported as create_mock_upstream",
    "models": "exported as the model classes",
    "openapi": "the OpenAPI documents of both APIs and their explorer (docs/openapi.md); plugins add to them through hooks",
    "plugins": "exported as PluginRegistry, PluginInfo",
    "portal": "the developer portal at /-/portal; exported as PORTAL_API, PortalCaller, PortalSection, portal_consumer, portal_tenant",
    "pricing": "the dated model price table behind X-AIProxy-Cost (plugins read the cost in ctx.annotations)",
    "proxy": "the Proxy API app",
    "redis_keys": "exported as delete_matching",
    "redis_scripts": "exported as ScriptConnection, ScriptError",
    "request_ids": "request id minting of the Proxy API",
    "routing": "routing across a rule's targets (strategies, retries, circuits, formats, cost)",
    "metrics": "GET /metrics: per-request figures, worker sharing, the exposition (MetricReading is exported)",
    "server": "the uvicorn listeners; exported as listener_configs",
    "tenant_pages": "the Proxy API's reserved /-/ pages (OpenAPI document, portal)",
    "services": "exported as GatewayServices",
    "single_flight": "exported as SingleFlight",
    "store": "exported as Store, ChangeEvent, store_for",
    "translation": "OpenAI <-> Anthropic format translation, used by routing",
    "tracing": "OpenTelemetry spans of the Proxy API, opt-in (tracing.enabled); configured by TracingConfig",
    "upstream": "the upstream HTTP client; exported as UpstreamClient, UpstreamResponse",
}

#: Dunder names that are API although they start with an underscore.
PUBLIC_DUNDERS = {"__version__"}


PACKAGE_DIR = Path(aiproxy_core.__file__).parent


def _module_files() -> list[Path]:
    # From the file tree, not pkgutil: a folder without __init__.py (aiproxy_core/proxy) is a
    # namespace package, which pkgutil does not list.
    return sorted(path for path in PACKAGE_DIR.rglob("*.py") if "__pycache__" not in path.parts)


def _top_level_submodules() -> set[str]:
    return {path.relative_to(PACKAGE_DIR).parts[0].removesuffix(".py") for path in _module_files()} - {"__init__"}


def _import_every_submodule() -> None:
    # A submodule becomes an attribute of the package when first imported, by whoever imports it:
    # import them all so the check does not depend on which tests ran before, and so a submodule
    # named like an exported object (which would replace it on import) is caught.
    for path in _module_files():
        parts = path.relative_to(PACKAGE_DIR).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts and parts[-1] != "__main__":
            importlib.import_module(".".join(("aiproxy_core", *parts)))


def _exported_modules() -> set[str]:
    return {name for name in aiproxy_core.__all__ if isinstance(getattr(aiproxy_core, name, None), types.ModuleType)}


def test_every_name_in_all_exists_once_in_order():
    assert aiproxy_core.__all__ == sorted(set(aiproxy_core.__all__)), "__all__ is kept sorted, each name once"
    missing = [name for name in aiproxy_core.__all__ if not hasattr(aiproxy_core, name)]
    assert missing == [], f"in aiproxy_core.__all__ but not defined: {missing}"


def test_every_public_attribute_of_the_package_is_in_all():
    _import_every_submodule()
    exported = set(aiproxy_core.__all__)
    public = {name for name in vars(aiproxy_core) if not name.startswith("_") or name in PUBLIC_DUNDERS}
    objects = {name for name in public if not isinstance(getattr(aiproxy_core, name), types.ModuleType)}
    modules = public - objects
    assert objects - exported == set(), f"public attributes of aiproxy_core missing from __all__: {sorted(objects - exported)}"
    unclassified = modules - exported - set(IMPLEMENTATION_MODULES)
    assert unclassified == set(), (
        f"submodules reachable as aiproxy_core.<name> that are neither exported nor implementation: {sorted(unclassified)}"
    )
    # Both ways: __all__ holds the public objects and the exported modules, nothing else.
    assert exported == objects | (modules & exported)


def test_every_submodule_is_either_exported_or_implementation():
    public_submodules = {name for name in _top_level_submodules() if not name.startswith("_")}
    classified = _exported_modules() | set(IMPLEMENTATION_MODULES)
    assert public_submodules - classified == set(), f"new submodules to classify: {sorted(public_submodules - classified)}"
    assert classified - public_submodules == set(), f"classified but gone: {sorted(classified - public_submodules)}"
    assert _exported_modules() & set(IMPLEMENTATION_MODULES) == set()


def test_exported_modules_declare_their_public_names():
    for name in sorted(_exported_modules()):
        module = getattr(aiproxy_core, name)
        assert hasattr(module, "__all__"), f"aiproxy_core.{name} is exported but has no __all__"
        missing = [member for member in module.__all__ if not hasattr(module, member)]
        assert missing == [], f"in aiproxy_core.{name}.__all__ but not defined: {missing}"


# -- every aiproxy_core type the public API hands out or takes is itself public -------------------

_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


def _core_classes_by_name() -> dict[str, type]:
    _import_every_submodule()
    classes: dict[str, type] = {}
    for module_name, module in list(sys.modules.items()):
        if module_name == "aiproxy_core" or module_name.startswith("aiproxy_core."):
            for name, value in vars(module).items():
                if inspect.isclass(value) and value.__module__.startswith("aiproxy_core") and value.__name__ == name:
                    classes.setdefault(name, value)
    return classes


def _annotations_of(obj: Any) -> Iterator[str]:
    """The annotations (as text) of a function, or of a class's fields and public methods."""
    functions = []
    if inspect.isclass(obj):
        for klass in obj.__mro__:
            if not klass.__module__.startswith("aiproxy_core"):
                continue
            yield from (str(annotation) for annotation in vars(klass).get("__annotations__", {}).values())
            for name, member in vars(klass).items():
                if name.startswith("_") and name != "__init__":
                    continue
                if isinstance(member, property):
                    member = member.fget
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                if inspect.isfunction(member):
                    functions.append(member)
    elif inspect.isfunction(obj):
        functions.append(obj)
    for function in functions:
        yield from (str(annotation) for annotation in function.__annotations__.values())


def _public_objects() -> dict[int, str]:
    """id of every public object -> the name a plugin imports it by."""
    public = {id(getattr(aiproxy_core, name)): name for name in aiproxy_core.__all__}
    for module_name in _exported_modules():
        module = getattr(aiproxy_core, module_name)
        public.update({id(getattr(module, name)): f"{module_name}.{name}" for name in module.__all__})
    return public


def test_every_core_type_in_a_public_signature_is_public():
    """A plugin can name (import) every core type it is given: ``ctx.consumer`` is a ``Consumer``,
    ``services.config.redis`` a ``RedisConfig``. Followed through the signatures transitively."""
    classes = _core_classes_by_name()
    public = _public_objects()
    unreachable: dict[str, str] = {}
    seen: set[int] = set()
    todo = [getattr(aiproxy_core, name) for name in aiproxy_core.__all__]
    while todo:
        obj = todo.pop()
        for annotation in _annotations_of(obj):
            for identifier in _IDENTIFIER.findall(annotation):
                klass = classes.get(identifier)
                if klass is None or id(klass) in seen:
                    continue
                seen.add(id(klass))
                todo.append(klass)
                if id(klass) not in public:
                    unreachable[f"{klass.__module__}.{klass.__name__}"] = getattr(obj, "__qualname__", repr(obj))
    assert unreachable == {}, f"core types in public signatures but not exported (type: used by): {unreachable}"


def test_consumer_is_exported_like_the_other_models():
    from aiproxy_core.models import ApiKey, Consumer

    assert aiproxy_core.Consumer is Consumer
    assert aiproxy_core.ApiKey is ApiKey


def test_the_exported_server_helpers_do_not_load_the_server_on_import():
    """``listener_configs`` and ``create_mock_upstream`` are exported for the SDK; importing the
    package (as every plugin and CLI command does) must not pay for uvicorn because of them.
    (httptools is the upstream client's parser, 5 ms to import; aiohttp, 160 ms, is loaded no more.)"""
    code = "import sys, aiproxy_core; print(sorted(m for m in sys.modules if m.split('.')[0] in ('uvicorn', 'aiohttp')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
