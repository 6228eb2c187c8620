"""Automation processes (B13): a trigger, a list of steps, and each contact's place.

Triggers fire from the event stream only (``automation.triggers.SUBSCRIBER``), so only
recorded contact activities start a process. The runner (``runner.py``) executes a
step's effect and moves the contact on in one transaction; waits are resumed by the
scheduler (``jobs.py``). See ``docs/automation.md``.
"""
