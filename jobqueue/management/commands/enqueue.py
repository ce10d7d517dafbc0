"""``manage.py enqueue QUAL_NAME [key=value ...]`` — enqueue a job, print its id;
``--count N`` or ``--file PATH`` enqueue many in one transaction (``services.enqueue_many``)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from jobqueue import cli


class Command(BaseCommand):
    #: no system checks (``manage.py check`` runs them): ~0.2–0.3 s less per call
    requires_system_checks: list[str] = []
    help = (
        "Enqueue a job. Values are JSON when they parse as JSON (sleep=10 is a number), else "
        "strings; setting names (priority=5, attempts=3, ...) set the job's settings, all other "
        "keys are job arguments. Prints the new job id on the last line. With --count N: N "
        "such jobs, argument n = 0..N-1 (--index-arg names it); with --file: one job per "
        'line, a JSON object {"qual_name": ..., "args": {...}, <setting>: ...} (\'-\' reads '
        "standard input). Many jobs go in one transaction per CORE4_ENQUEUE_MANY_MAX jobs; "
        "jobs that exist are not enqueued again and are listed."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "qual_name", nargs="?", help="qualified job class name, e.g. module.Class"
        )
        parser.add_argument("values", nargs="*", metavar="key=value")
        parser.add_argument("--by", default=None, help="author to record (default: OS user)")
        parser.add_argument("--count", type=int, default=None, help="enqueue N jobs")
        parser.add_argument(
            "--index-arg", default="n", help="with --count: the argument numbering the jobs"
        )
        parser.add_argument("--file", default=None, help="JSON lines, one job each ('-': stdin)")

    def handle(self, *args, qual_name: str | None, **options):
        by, count, path = options["by"], options["count"], options["file"]
        if path is not None:
            if qual_name or options["values"] or count is not None:
                raise CommandError("--file takes no job name, values or --count")
            self.report(cli.enqueue_lines(cli.read_lines(path), by=by))
            return
        if not qual_name:
            raise CommandError("the job's qualified name is required (or --file)")
        if count is not None:
            jobs = cli.numbered_jobs(qual_name, options["values"], count, options["index_arg"])
            self.report(cli.enqueue_lines(jobs, by=by))
            return
        job = cli.enqueue(qual_name, options["values"], by=by)
        self.stdout.write(f"enqueued [{job.name}] with args {job.args}")
        self.stdout.write(job.id)

    def report(self, result: cli.ManyResult) -> None:
        self.stdout.write(
            cli.table([[result.enqueued, len(result.existing)]], ["enqueued", "exists"])
        )
        if result.existing:
            self.stdout.write("")
            self.stdout.write(cli.table(result.existing, ["line", "qual_name", "args"]))
