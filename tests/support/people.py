"""How a person's browser looks to Tidings' tracking endpoints.

Tests that stand for a recipient clicking a link send these headers: a desktop
browser's user agent. Library defaults (``python-httpx``) and headless Chrome's own
user agent are on the scanner list and count as automated (B7).
"""

from __future__ import annotations

PERSON_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/150.0.0.0 Safari/537.36"
)
PERSON = {"User-Agent": PERSON_UA}
