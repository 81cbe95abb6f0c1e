"""WSGI entry point (gunicorn labelsite.wsgi)."""

import os
from pathlib import Path

from django.core.wsgi import get_wsgi_application

from core.env import env_file_load

env_file_load(Path(__file__).resolve().parent.parent / ".env")  # before settings; the real environment wins
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labelsite.settings")
application = get_wsgi_application()
