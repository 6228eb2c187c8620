"""Tracking's tokens are signed by ``tidings.sending.tokens`` (sending signs them into
every message, and sits below tracking); the names forms reads from here."""

from tidings.sending.tokens import CONFIRM as CONFIRM
from tidings.sending.tokens import PREFERENCES as PREFERENCES
from tidings.sending.tokens import preferences_path as preferences_path
