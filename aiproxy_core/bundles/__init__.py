"""Plugin bundles: named sets of plugins installed together."""

from .catalog import BUNDLES, Bundle, distribution_name
from .installing import install, pip_arguments

__all__ = ["BUNDLES", "Bundle", "distribution_name", "install", "pip_arguments"]
