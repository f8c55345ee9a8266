"""Which country a request came from: an offline IP database, or a trusted proxy's header.

The database is geoip2fast's (MIT code; data built from MaxMind's GeoLite2 Country CSV, whose
licence is MaxMind's GeoLite2 EULA, attribution required): a gzip file inside the pip package,
loaded once per process, never fetched at run time. An operator updates it by installing a newer
``geoip2fast``, or by pointing ``plugins.analytics.country_database`` at a file built with the
package's ``geoip2dat`` tool from a GeoLite2 CSV download (see the README).
"""

from __future__ import annotations

import ipaddress
import logging
import re
from pathlib import Path
from typing import Callable

__all__ = ["CountryLookup", "CountryOf", "UNKNOWN", "database_path"]

logger = logging.getLogger("aiproxy.analytics")

#: ``(client address, a trusted proxy's country header) -> country code``: :meth:`CountryLookup.country_of`.
CountryOf = Callable[[str | None, str | None], str]

#: What a private, reserved, unlisted or missing address counts as.
UNKNOWN = "unknown"

_COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")


def database_path(database: str) -> Path:
    """The table's file (a name is looked up inside the geoip2fast package); FileNotFoundError
    naming the config key when there is none, so a wrong setting fails the start, not a request."""
    path = Path(database)
    if not path.is_absolute():
        import geoip2fast

        path = Path(geoip2fast.__file__).parent / database
    if not path.is_file():
        raise FileNotFoundError(f"plugins.analytics.country_database: no file {str(path)!r}")
    return path


#: Addresses whose country is remembered (about 100 bytes each).
_KNOWN_ADDRESSES = 65_536


class CountryLookup:
    """``country_of(address, header)`` -> an ISO 3166 alpha-2 code, or ``"unknown"``."""

    def __init__(self, database: str) -> None:
        # Imported here: the package loads its whole table on construction (~0.3 s, ~40 MB).
        from geoip2fast import GeoIP2Fast  # type: ignore[import-untyped]  # ships no type information

        self._reader = GeoIP2Fast(verbose=False, geoip2fast_data_file=str(database_path(database)))
        #: Address -> country: parsing an address and searching the table took tens of µs per
        #: request, and clients come back from the same addresses. Cleared when full.
        self._known: dict[str, str] = {}

    def country_of(self, address: str | None, header: str | None = None) -> str:
        """``header`` is a trusted proxy's word (``CF-IPCountry``) and wins when it is a code;
        ``XX`` (Cloudflare: no country) and ``T1`` (Tor) fall back to the address."""
        if header is not None:
            code = header.strip().upper()
            if _COUNTRY_CODE.match(code) and code != "XX":
                return code
        if not address:
            return UNKNOWN
        known = self._known.get(address)
        if known is None:
            known = self._lookup(address)
            if len(self._known) >= _KNOWN_ADDRESSES:
                self._known.clear()
            self._known[address] = known
        return known

    def _lookup(self, address: str) -> str:
        try:
            ip = ipaddress.ip_address(address.strip("[]"))
        except ValueError:
            return UNKNOWN
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if not ip.is_global:
            return UNKNOWN
        code = str(self._reader.lookup(str(ip)).country_code)
        return code if _COUNTRY_CODE.match(code) else UNKNOWN
