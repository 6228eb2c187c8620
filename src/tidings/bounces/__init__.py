"""Returned mail and whom Tidings never mails again: VERP return paths, the inbound
bounce listener, DSN/ARF parsing, bounce and complaint facts, the suppression list."""
