"""aiproxy_core's public API is exactly what __all__ lists, and everything it lists exists."""

import aiproxy_core


def test_all_names_exist_and_public_names_are_exported():
    exported = set(aiproxy_core.__all__)
    assert all(hasattr(aiproxy_core, name) for name in exported)
    public = {
        name
        for name, value in vars(aiproxy_core).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("aiproxy_core")
    }
    assert public <= exported, f"public but not in __all__: {sorted(public - exported)}"
