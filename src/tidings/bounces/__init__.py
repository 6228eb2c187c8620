"""Returned mail: VERP return paths, the inbound bounce listener, DSN/ARF parsing,
bounce and complaint facts (the suppression list they feed is ``tidings.suppression``).

Importing the package registers how a message refused at RCPT is recorded
(``sending.failures.on_hard_bounce``): sending sits below bounces and never imports it.
"""

from tidings.bounces import service as service
from tidings.sending.failures import on_hard_bounce

on_hard_bounce(service.record_refusal)
