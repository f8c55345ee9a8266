"""Plugin bundles: named sets of plugins installed together."""

from .catalog import BUNDLES, TORCH_PLUGINS, Bundle, distribution_name, with_requirements
from .installing import install, pip_arguments, pip_commands

__all__ = ["BUNDLES", "TORCH_PLUGINS", "Bundle", "distribution_name", "install", "pip_arguments", "pip_commands", "with_requirements"]
