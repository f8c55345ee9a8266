"""Key authentication: key generation, hashing and the cached check on the request path."""

from .consumer_cache import ConsumerDirectory
from .key_cache import KeyAuthenticator, presented_key
from .keys import KEY_PREFIX, display_prefix, hash_key, new_key

__all__ = ["KEY_PREFIX", "ConsumerDirectory", "KeyAuthenticator", "display_prefix", "hash_key", "new_key", "presented_key"]
