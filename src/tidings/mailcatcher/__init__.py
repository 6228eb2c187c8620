"""Embedded SMTP sink and its Inbox, for demos and development."""
