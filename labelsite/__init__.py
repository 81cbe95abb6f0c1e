"""Labelsite: project settings, root URLs, the Celery app and cross-cutting web helpers."""

from labelsite.celery import app as celery_app

__all__ = ["celery_app"]
