"""Celery tasks of the portal app (autodiscovered like every app's ``tasks.py``)."""

from celery import shared_task


@shared_task(name="portal.ping")
def ping(value: str = "pong") -> str:
    """Round-trip check for the broker and a worker (used by tests and ``make run``)."""
    return value
