"""The global suppression list: addresses no send ever reaches (B15).

Below ``sending`` so that every kind of send can ask it (``sending.gate``); bounces,
complaints, unsubscribes and people add to it from above.
"""
