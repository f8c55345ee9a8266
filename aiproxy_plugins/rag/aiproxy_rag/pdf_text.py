"""The text of a PDF upload, page by page, with pypdf (pure Python: no system libraries)."""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from aiproxy_core import BadRequest

__all__ = ["pdf_text"]

# pypdf warns on every slightly malformed file; a tenant's upload is not worth a log line each.
logging.getLogger("pypdf").setLevel(logging.ERROR)


def pdf_text(data: bytes) -> str:
    """All pages' text, pages separated by blank lines (so chunking treats them as paragraphs).

    A file pypdf cannot read is the client's problem: a 400, not a 500.
    """
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise BadRequest("the PDF is encrypted; upload an unencrypted copy", code="unreadable_pdf")
        pages = [page.extract_text() or "" for page in reader.pages]
    except BadRequest:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise BadRequest(f"the PDF could not be read: {exc}", code="unreadable_pdf") from None
    return "\n\n".join(page.strip() for page in pages if page.strip())
