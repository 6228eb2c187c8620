"""Contacts: people Tidings mails, with their fields."""
