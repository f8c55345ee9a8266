"""Where the gateway keeps its state: SQLite embedded, Redis when shared."""

from .base import Store
from .events import ChangeEvent

__all__ = ["ChangeEvent", "Store"]
