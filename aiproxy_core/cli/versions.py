"""``aiproxy --version``: what is installed, read from the packages' metadata (no plugin is imported,
so it answers at once even with the AI plugins and their torch installed)."""

from __future__ import annotations

from importlib import metadata

from .. import __version__

__all__ = ["version_text"]


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def version_text() -> str:
    """``aiproxy-core X``, then ``aiproxy-sdk X`` and ``plugins: name X, ...`` when installed."""
    core = _version("aiproxy-core")
    # Run from a checkout without installing it (PYTHONPATH), the package still knows its own.
    lines = [f"aiproxy-core {core}" if core else f"aiproxy-core {__version__} (not installed: run from its source folder)"]
    sdk = _version("aiproxy-sdk")
    if sdk:
        lines.append(f"aiproxy-sdk {sdk}")
    plugins = sorted(
        {(entry.name, entry.dist.version if entry.dist else "?") for entry in metadata.entry_points(group="aiproxy")}
    )
    lines.append("plugins: " + (", ".join(f"{name} {version}" for name, version in plugins) or "none installed"))
    return "\n".join(lines)
