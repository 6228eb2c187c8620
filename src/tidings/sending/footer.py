"""The default footer of regular emails: who sends, their postal address, unsubscribe
and the preference center.

Bulk-sender rules (and CAN-SPAM) expect a visible unsubscribe link and the sender's
postal address in every marketing message. An email whose HTML already places
``{{ unsubscribe_url }}`` keeps its own footer; every other regular email gets this
one, added when the mailout's messages are composed (the stored email is unchanged).
The values come in as template variables (``postal_address``, ``sender_name``), so
nothing an operator types is ever read as template code.
"""

from __future__ import annotations

import re

_OWN_UNSUBSCRIBE = re.compile(r"{{\s*unsubscribe_url\s*}}")

FOOTER_HTML = (
    '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">'
    '<tr><td style="padding:24px 12px;font-family:Arial,Helvetica,sans-serif;font-size:12px;'
    'line-height:18px;color:#555555;text-align:center">'
    "<p>You receive this email from {{ sender_name }} because you subscribed to it."
    "{% if postal_address %}<br>{{ postal_address }}{% endif %}</p>"
    '<p><a href="{{ unsubscribe_url }}" style="color:#555555">Unsubscribe</a>'
    '{% if preferences_url %} &middot; <a href="{{ preferences_url }}" style="color:#555555">'
    "Manage your preferences</a>{% endif %}</p>"
    "</td></tr></table>"
)
FOOTER_TEXT = (
    "\n\n--\nYou receive this email from {{ sender_name }} because you subscribed to it."
    "{% if postal_address %}\n{{ postal_address }}{% endif %}\n"
    "Unsubscribe: {{ unsubscribe_url }}\n"
    "{% if preferences_url %}Preferences: {{ preferences_url }}\n{% endif %}"
)


def has_own_unsubscribe_link(template: str) -> bool:
    """True when the template already shows ``{{ unsubscribe_url }}``."""
    return bool(_OWN_UNSUBSCRIBE.search(template))


def add_footer_html(html: str) -> str:
    """The HTML template with the footer just before ``</body>``, or at the end."""
    index = html.lower().rfind("</body>")
    if index == -1:
        return html + FOOTER_HTML
    return html[:index] + FOOTER_HTML + html[index:]


def add_footer_text(text: str) -> str:
    """A hand-written plain text with the footer at the end."""
    return text.rstrip() + FOOTER_TEXT
