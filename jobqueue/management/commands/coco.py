"""``manage.py coco`` — core4's queue command line (``coco``) on this queue."""

from __future__ import annotations

import json

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from core4api.ids import utcnow
from jobqueue import cli, services
from jobqueue.errors import JobError
from jobqueue.models import Job
from jobqueue.states import RUNNING, UNFINISHED
from jobqueue.summary import summary_rows


class Command(BaseCommand):
    help = "core4's coco queue options: enqueue, worker, info, listing, detail, remove, ..."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("-e", "--enqueue", nargs="+", metavar="QUAL_NAME [key=value]")
        group.add_argument("-w", "--worker", nargs="?", const="", metavar="IDENTIFIER")
        group.add_argument("-i", "--info", action="store_true", help="queue summary")
        group.add_argument("-l", "--listing", nargs="*", metavar="STATE")
        group.add_argument("-d", "--detail", nargs="+", metavar="ID")
        group.add_argument("--remove", nargs="+", metavar="ID|QUAL_NAME")
        group.add_argument("--kill", nargs="+", metavar="ID|QUAL_NAME")
        group.add_argument("--restart", nargs="+", metavar="ID|QUAL_NAME")
        group.add_argument("--pause", nargs="?", const="", metavar="PROJECT")
        group.add_argument("--resume", nargs="?", const="", metavar="PROJECT")
        group.add_argument("-m", "--mode", action="store_true", help="maintenance state")
        group.add_argument("-x", "--halt", action="store_true", help="stop all workers")
        group.add_argument("-a", "--alive", action="store_true", help="list alive workers")
        group.add_argument("--quiet", metavar="WORKER",
                           help="that worker stops picking jobs (running jobs go on)")
        group.add_argument("--stop", metavar="WORKER",
                           help="that worker stops gracefully (as on SIGTERM)")
        group.add_argument("--resume-worker", metavar="WORKER",
                           help="that worker picks jobs again (undoes --quiet)")  # fmt: skip
        parser.add_argument("--concurrency", type=int, default=None, help="with --worker")
        parser.add_argument("--by", default=None, help="author to record (default: OS user)")

    def handle(self, *args, **options):
        by = options["by"]
        self.by = by
        if options["enqueue"]:
            qual_name, *items = options["enqueue"]
            self.stdout.write(f"enqueueing [{qual_name}]")
            job = cli.enqueue(qual_name, items, by=by)
            self.stdout.write(job.id)
        elif options["worker"] is not None:
            extra = ["--concurrency", str(options["concurrency"])] if options["concurrency"] else []
            call_command("worker", *([options["worker"]] if options["worker"] else []), *extra)
        elif options["info"]:
            self.info()
        elif options["listing"] is not None:
            self.listing(options["listing"])
        elif options["detail"]:
            self.detail(options["detail"])
        elif options["remove"]:
            self.each(options["remove"], services.remove, "removed", "remove")
        elif options["kill"]:
            self.each(options["kill"], services.kill, "killed", "kill")
        elif options["restart"]:
            self.each(
                options["restart"],
                services.restart,
                "restarted",
                "restart",
                lambda job, new: f"restarted [{job.id}], new _id [{new.id}]",
            )
        elif options["pause"] is not None:
            self.pause(options["pause"] or None)
        elif options["resume"] is not None:
            self.resume(options["resume"] or None)
        elif options["mode"]:
            mode = services.maintenance()
            self.stdout.write(f"global maintenance: {mode['paused']}")
            self.stdout.write(f"project maintenance: {', '.join(mode['projects']) or '-'}")
        elif options["halt"]:
            services.halt(by)
            self.stdout.write("system halt")
        elif options["alive"]:
            self.alive()
        else:
            for action in ("quiet", "stop", "resume_worker"):
                if options[action]:
                    self.control_worker(options[action], action.removesuffix("_worker"))

    def control_worker(self, identifier: str, action: str) -> None:
        try:
            changed, mode = services.control_worker(identifier, action, by=self.by)
        except JobError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"worker [{identifier}]: {mode}{'' if changed else ' already'}")

    # --- reading -----------------------------------------------------------------------------
    def info(self):
        rows = summary_rows()
        if not rows:
            self.stdout.write("no jobs.")
            return
        table = [[r["n"], r["state"], cli.flags(r), r["name"]] for r in rows]
        self.stdout.write(cli.table(table, ["n", "state", "flag", "name"]))

    def listing(self, states: list[str]):
        wanted = []
        for state in states:
            if state.lower() not in UNFINISHED:
                raise CommandError(f"unknown state [{state}]")
            wanted.append(state.lower())
        jobs = Job.objects.filter(journaled=False)
        if wanted:
            jobs = jobs.filter(state__in=wanted)
        now = utcnow()
        rows = []
        for job in jobs.order_by("id")[:10_000]:
            done = job.attempts - job.attempts_left - (1 if job.state == RUNNING else 0)
            runtime = (
                cli.age(job.started_at, now) if job.state == RUNNING else f"{job.runtime or 0:.0f}s"
            )
            rows.append([
                job.id, job.state, cli.flags(job),
                "" if job.prog_value is None else f"{job.prog_value * 100:.0f}",
                f"{job.priority:03d}{'F' if job.force else ''}",
                f"{done + (1 if job.state == RUNNING else 0)}/{job.attempts}",
                job.enqueued_by, job.enqueued_at.strftime("%Y-%m-%d %H:%M:%S"),
                cli.age(job.enqueued_at, now), runtime, job.locked_by or "", job.name,
            ])  # fmt: skip
        if not rows:
            self.stdout.write("no jobs.")
            return
        headers = ["_id", "state", "flag", "pro", "prio", "attempt", "user", "enqueued", "age",
                   "runtime", "worker", "name"]  # fmt: skip
        self.stdout.write(cli.table(rows, headers))

    def detail(self, ids: list[str]):
        for key in ids:
            jobs = self._resolve(key, finished=True)
            if jobs:
                data = services.job_detail(jobs[0], stdout=True)
                stdout = data.pop("stdout")
                self.stdout.write(json.dumps(data, indent=2, default=str))
                self.stdout.write("-" * 20 + " STDOUT " + "-" * 20)
                self.stdout.write(stdout or "(none)")
                return
        raise CommandError(f"job [{', '.join(ids)}] not found")

    def alive(self):
        workers = services.alive_workers()
        rows = [
            [w.identifier, w.hostname, w.pid, cli.age(w.started), w.heartbeat.isoformat(
                timespec="seconds"), len(w.running)]
            for w in workers
        ]  # fmt: skip
        if not rows:
            self.stdout.write("no daemon.")
            return
        self.stdout.write(
            cli.table(rows, ["identifier", "hostname", "pid", "up", "heartbeat", "running"])
        )

    # --- acting ------------------------------------------------------------------------------
    def _resolve(self, key: str, finished: bool = False) -> list[Job]:
        """An id, or a qualified name meaning all unfinished jobs of that name."""
        job = Job.objects.filter(pk=key).first()
        if job is not None:
            return [job] if finished or not job.journaled else []
        return list(Job.objects.filter(journaled=False, name=key).order_by("id"))

    def each(self, keys, action, done: str, verb: str, report=None):
        """Apply ``action`` to every job named by ``keys``; one line per job, then the verdict.

        ``report(job, result)`` words a success line (default: ``<done> [<id>]``).
        """
        failed = False
        for key in keys:
            jobs = self._resolve(key)
            if not jobs:
                self.stderr.write(f"failed to {verb} [{key}]: job not found")
                failed = True
            for job in jobs:
                try:
                    result = action(job.id, by=self.by)
                except JobError as exc:
                    self.stderr.write(f"failed to {verb} [{job.id}]: {exc}")
                    failed = True
                else:
                    self.stdout.write(report(job, result) if report else f"{done} [{job.id}]")
        if failed:
            raise CommandError(f"not every job could be {done}")

    def pause(self, project):
        try:
            entered = services.pause(project, by=self.by)
        except JobError as exc:
            raise CommandError(str(exc)) from None
        where = f" on [{project}]" if project else ""
        self.stdout.write(
            f"entering maintenance{where}" if entered else "in maintenance already,\nnothing to do"
        )

    def resume(self, project):
        try:
            left = services.resume(project, by=self.by)
        except JobError as exc:
            raise CommandError(str(exc)) from None
        where = f" on [{project}]" if project else ""
        self.stdout.write(
            f"leaving maintenance{where}" if left else "not in maintenance,\nnothing to do"
        )
