"""aiproxy content_validator: checks what a request asks and what the upstream answers.

The plugin itself is :mod:`aiproxy_content_validator.plugin` (the ``aiproxy`` entry point).
"""

from .settings import ContentValidatorSettings

__version__ = "0.1.0"

__all__ = ["ContentValidatorSettings", "__version__"]
