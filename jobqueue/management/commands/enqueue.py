"""``manage.py enqueue QUAL_NAME [key=value ...]`` — enqueue a job, print its id."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from jobqueue import cli


class Command(BaseCommand):
    help = (
        "Enqueue a job. Values are JSON when they parse as JSON (sleep=10 is a number), else "
        "strings; setting names (priority=5, attempts=3, ...) set the job's settings, all other "
        "keys are job arguments. Prints the new job id on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("qual_name", help="qualified job class name, e.g. module.Class")
        parser.add_argument("values", nargs="*", metavar="key=value")
        parser.add_argument("--by", default=None, help="author to record (default: OS user)")

    def handle(self, *args, qual_name: str, **options):
        job = cli.enqueue(qual_name, options["values"], by=options["by"])
        self.stdout.write(f"enqueued [{job.name}] with args {job.args}")
        self.stdout.write(job.id)
