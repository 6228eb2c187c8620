"""Tests of the sending domain: resume after a crash, SMTP, message building."""
