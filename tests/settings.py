"""Settings of the test suite: the product's, plus the job classes the tests define.

Test jobs are registered only here (``DJANGO_SETTINGS_MODULE=tests.settings`` for pytest and
for every process a test starts), never in the product's settings.
"""

from core4site.settings import *  # noqa: F403
from core4site.settings import CORE4_JOB_PACKAGES

CORE4_JOB_PACKAGES = [
    *CORE4_JOB_PACKAGES,
    "tests.jobqueue.jobs",
    "tests.jobqueue.api.jobs",
    "tests.jobqueue.tasks",
]
