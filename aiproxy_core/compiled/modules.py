"""Which modules are compiled, and where their build lives."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["BUILD_DIR", "GROUP", "HOT_PATH_MODULES", "MANIFEST", "PURE_PYTHON_ENV"]

#: Modules every proxied request runs through, compiled together. They are typed strictly already
#: (mypy), which is what mypyc compiles from, and each stays valid pure Python. Left out, each
#: for a reason found while building this list (mypy 2.4):
#:
#: - ``proxy.app``: compiled, an exception caught by ``except Exception`` in ``_send`` was raised
#:   again once its ``finally: await discard(...)`` had run (tests/test_request_integrity.py
#:   caught it); tests/test_compiled_hot_path.py keeps ``await`` out of ``finally`` here;
#: - ``raise ... from``, whose cause mypyc drops: :func:`.raise_from.raised_from` sets it instead;
#: - async generators, which mypyc does not compile: the ones of the modules above are in
#:   ``proxy.streaming``, ``routing.translated_stream`` and ``upstream.body_chunks``;
#: - ``pricing.*``: a compiled function checks argument types itself, so a mistyped price file
#:   would fail with a TypeError instead of the message that names the bad value;
#: - ``pricing.usage_shapes``: builds its dataclass with ``object.__new__``, which a compiled
#:   class refuses.
HOT_PATH_MODULES: tuple[str, ...] = (
    "aiproxy_core.server.answer_head",
    "aiproxy_core.server.header_limits",
    "aiproxy_core.server.proxy_protocol",
    "aiproxy_core.server.refusals",
    "aiproxy_core.upstream.connection_pool",
    "aiproxy_core.upstream.http1_connection",
    "aiproxy_core.upstream.http1_client",
    "aiproxy_core.routing.router",
    "aiproxy_core.routing.formats",
    "aiproxy_core.routing.cost",
    "aiproxy_core.proxy.headers",
    "aiproxy_core.proxy.routing",
    "aiproxy_core.proxy.request_path",
    "aiproxy_core.proxy.disconnect",
    "aiproxy_core.proxy.request_model",
    "aiproxy_core.metrics.request_metrics",
    "aiproxy_core.auth.key_cache",
    "aiproxy_core.request_ids",
    "aiproxy_core.json_text",
    "aiproxy_core.auth.consumer_cache",
    "aiproxy_core.chain.executor",
    "aiproxy_core.redis_scripts",
    "aiproxy_core.state.redis_count_batch",
    "aiproxy_core.state.turn_batch",
)

#: mypyc's name for the shared library the modules' code lives in (``<GROUP>__mypyc``).
GROUP = "aiproxy_hot_path"

#: The build belongs to the environment aiproxy is installed in (a venv, or the image's Python).
BUILD_DIR = Path(sys.prefix) / "aiproxy-compiled"
MANIFEST = "manifest.json"

#: Set to 1 to run the pure Python modules although a matching build exists.
PURE_PYTHON_ENV = "AIPROXY_PURE_PYTHON"
