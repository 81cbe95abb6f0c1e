"""Settings for the test suite: the development setup, asked for explicitly (Labelsite's defaults are production's).

Worker processes that tests start inherit DEBUG through the environment, as they inherit this module's name."""

import os

os.environ.setdefault("DEBUG", "true")

from labelsite.settings import *  # noqa: E402,F403
