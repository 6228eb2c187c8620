"""Statistics: per-email and per-link counters, timeline, reconciliation (B2).

Importing the package registers the statistics rows every new email and link position
gets (``emails.hooks``): emails sits below stats and never imports it.
"""

from tidings.stats import email_rows as email_rows
