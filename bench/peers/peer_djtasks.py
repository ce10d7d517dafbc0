"""The django-tasks-db peer's task (the same body)."""

from django_tasks import task
from peer_tasks import body


@task()
def work(i, t):
    body(i, t)
