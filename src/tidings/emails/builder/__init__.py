"""The email builder: documents of sections and widgets, compiled through MJML.

``normalize`` checks a document, ``compile_document`` turns it into the email's HTML,
plain text and widgets, ``plain_text`` is the text part alone, and ``starters`` holds
the starter templates a marketer picks from.
"""

from __future__ import annotations

from tidings.emails.builder.compile import CompiledDocument, compile_document
from tidings.emails.builder.document import keys, new_key, normalize, walk
from tidings.emails.builder.text import plain_text

__all__ = [
    "CompiledDocument",
    "compile_document",
    "keys",
    "new_key",
    "normalize",
    "plain_text",
    "walk",
]
