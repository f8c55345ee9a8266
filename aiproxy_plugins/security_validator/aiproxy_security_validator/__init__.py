"""aiproxy security_validator: checks a request's origin and envelope before it reaches the upstream.

The plugin itself is :mod:`aiproxy_security_validator.plugin` (the ``aiproxy`` entry point).
"""

from .settings import HmacSettings, SecurityValidatorSettings

__version__ = "0.1.0"

__all__ = ["HmacSettings", "SecurityValidatorSettings", "__version__"]
