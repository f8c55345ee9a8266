"""aiproxy moderation: blocks or flags toxic and off-limits prompts and answers, redacts PII.

The plugin itself is :mod:`aiproxy_moderation.plugin` (the ``aiproxy`` entry point).
"""

from .pii_detector import PiiSpan, find_pii
from .result import ModerationResult
from .settings import ModerationSettings

__version__ = "0.1.0"

__all__ = ["ModerationResult", "ModerationSettings", "PiiSpan", "__version__", "find_pii"]
