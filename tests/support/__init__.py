"""Test support: real SMTP server, live HTTP server, small world builders."""
