"""Consents: versioned definitions, agreements and the tracking policy (B1, B9).

Importing the package registers the consent gate every recorded activity passes
(``activities.gate``): activities sits below consent and never imports it.
"""

from tidings.consent import activity_gate as activity_gate
