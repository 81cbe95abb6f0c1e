"""Settings for the test suite: the development setup, asked for explicitly (Labelsite's defaults are production's).

Worker processes that tests start inherit DEBUG through the environment, as they inherit this module's name."""

import os

os.environ.setdefault("DEBUG", "true")
# The suite never reads a developer's .env (its worker and manage.py subprocesses inherit this too); tests that
# check the .env file name theirs.
os.environ["LABELSITE_ENV_FILE"] = ""

from labelsite.settings import *  # noqa: F403
