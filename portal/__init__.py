"""The web side of Glasspane: settings, URLs, the Celery app, views and the REST API."""

from portal.celery import app as celery_app

__all__ = ["celery_app"]
