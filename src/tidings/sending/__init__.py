"""Sending: mailouts, deliveries, SMTP delivery with exactly-once resume."""
