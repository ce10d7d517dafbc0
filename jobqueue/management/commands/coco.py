"""``manage.py coco`` — core4's queue command line (``coco``) on this queue."""

from __future__ import annotations

import json
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from core4api.ids import utcnow
from jobqueue import cli, schedules, services
from jobqueue.errors import JobError
from jobqueue.models import Job, Schedule
from jobqueue.states import PENDING, RUNNING, UNFINISHED
from jobqueue.summary import summary_rows


class Command(BaseCommand):
    #: no system checks (``manage.py check`` runs them): ~0.2–0.3 s less per call
    requires_system_checks: list[str] = []
    help = (
        "core4's queue command line: enqueue jobs, run a worker, show the queue and its jobs, "
        "kill, remove or restart jobs, pause and resume picking, halt the workers. "
        "Give exactly one of the options below (--concurrency, --by and --yes go with it)."
    )
    #: ``stdin`` may be passed to ``call_command`` (tests answer the confirmation through it).
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument(
            "-e", "--enqueue", nargs="+", metavar=("QUAL_NAME", "KEY=VALUE"),
            help="enqueue a job; values are JSON when they parse as JSON, else strings",
        )  # fmt: skip
        group.add_argument(
            "-w", "--worker", nargs="?", const="", metavar="IDENTIFIER",
            help="run a worker in the foreground (as manage.py worker)",
        )  # fmt: skip
        group.add_argument(
            "--scheduler", nargs="?", const="", metavar="IDENTIFIER",
            help="run the scheduler in the foreground (as manage.py scheduler)",
        )  # fmt: skip
        group.add_argument(
            "-i", "--info", action="store_true",
            help="queue summary: jobs per state, flags and name; says when the queue is paused",
        )  # fmt: skip
        group.add_argument(
            "-l", "--listing", nargs="*", metavar="STATE",
            help="one line per unfinished job (of these states; default: all)",
        )  # fmt: skip
        group.add_argument(
            "-d", "--detail", nargs="+", metavar="ID",
            help="a job (finished ones too) as JSON, then its output",
        )  # fmt: skip
        group.add_argument(
            "--remove", nargs="+", metavar="ID|QUAL_NAME",
            help="take jobs out of the queue (a running job when it stops)",
        )  # fmt: skip
        group.add_argument(
            "--kill", nargs="+", metavar="ID|QUAL_NAME",
            help="kill running jobs (their worker SIGKILLs them within about a second)",
        )  # fmt: skip
        group.add_argument(
            "--restart", nargs="+", metavar="ID|QUAL_NAME",
            help="failed/deferred: run now (same id); error/killed/inactive: run as a new job",
        )  # fmt: skip
        group.add_argument(
            "--pause", nargs="?", const="", metavar="PROJECT",
            help="stop picking jobs: all, or those whose name starts with PROJECT.",
        )  # fmt: skip
        group.add_argument(
            "--resume", nargs="?", const="", metavar="PROJECT",
            help="start picking jobs again (all, or PROJECT's)",
        )  # fmt: skip
        group.add_argument(
            "-m", "--mode", action="store_true",
            help="maintenance state: is the queue paused, which projects are",
        )  # fmt: skip
        group.add_argument(
            "-x", "--halt", action="store_true",
            help="stop every running worker (as on SIGTERM); servers keep serving",
        )  # fmt: skip
        group.add_argument(
            "-a", "--alive", action="store_true", help="workers with a fresh heartbeat"
        )
        group.add_argument(
            "--quiet", metavar="WORKER", help="that worker stops picking jobs (running jobs go on)"
        )
        group.add_argument(
            "--stop", metavar="WORKER", help="that worker stops gracefully (as on SIGTERM)"
        )
        group.add_argument(
            "--resume-worker", metavar="WORKER",
            help="that worker picks jobs again (undoes --quiet)",
        )  # fmt: skip
        group.add_argument(
            "--schedules", action="store_true",
            help="schedules (runtime and class): when each runs next, how it last ran",
        )  # fmt: skip
        group.add_argument(
            "--enable-schedule", metavar="ID", help="enable a schedule (next run from now on)"
        )
        group.add_argument(
            "--disable-schedule", metavar="ID", help="disable a schedule (say why with --reason)"
        )
        group.add_argument(
            "--run-schedule", metavar="ID", help="enqueue a schedule's job now (next run stays)"
        )
        parser.add_argument(
            "--reason", default="", help="with --disable-schedule: why (shown with the schedule)"
        )
        parser.add_argument(
            "--concurrency", type=int, default=None, help="with --worker: jobs at once"
        )
        parser.add_argument("--by", default=None, help="author to record (default: OS user)")
        parser.add_argument(
            "-y", "--yes", action="store_true",
            help="with --kill/--remove/--restart QUAL_NAME: act on every unfinished job of "
                 "that name without asking (needed without a terminal)",
        )  # fmt: skip

    def handle(self, *args, **options):
        by = options["by"]
        self.by = by
        self.yes = options["yes"]
        self.stdin = options.get("stdin") or sys.stdin  # None when started without one
        if options["enqueue"]:
            qual_name, *items = options["enqueue"]
            self.stdout.write(f"enqueueing [{qual_name}]")
            job = cli.enqueue(qual_name, items, by=by)
            self.stdout.write(job.id)
        elif options["worker"] is not None:
            extra = ["--concurrency", str(options["concurrency"])] if options["concurrency"] else []
            call_command("worker", *([options["worker"]] if options["worker"] else []), *extra)
        elif options["scheduler"] is not None:
            call_command("scheduler", *([options["scheduler"]] if options["scheduler"] else []))
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
                lambda job_id, new: (
                    f"restarted [{job_id}], new _id [{new.id}]"
                    if new.id != job_id
                    else f"restarted [{job_id}]"
                ),
            )
        elif options["pause"] is not None:
            self.pause(options["pause"] or None)
        elif options["resume"] is not None:
            self.resume(options["resume"] or None)
        elif options["mode"]:
            mode = services.maintenance()
            self.stdout.write(f"global maintenance: {'on' if mode['paused'] else 'off'}")
            self.stdout.write(f"project maintenance: {', '.join(mode['projects']) or 'none'}")
        elif options["halt"]:
            services.halt(by)
            self.stdout.write("system halt")
        elif options["alive"]:
            self.alive()
        elif options["schedules"]:
            self.schedules()
        elif options["enable_schedule"]:
            self.schedule_action("enable", options["enable_schedule"])
        elif options["disable_schedule"]:
            self.schedule_action("disable", options["disable_schedule"], options["reason"])
        elif options["run_schedule"]:
            self.schedule_action("run", options["run_schedule"])
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
        if rows:
            table = [[r["n"], r["state"], cli.flags(r), r["name"]] for r in rows]
            self.stdout.write(cli.table(table, ["n", "state", "flag", "name"]))
        else:
            self.stdout.write("no jobs.")
        mode = services.maintenance()
        if mode["paused"]:
            self.stdout.write("the queue is paused: no job starts (coco --resume)")
        if mode["projects"]:
            self.stdout.write(
                f"paused projects: {', '.join(mode['projects'])} (coco --resume PROJECT)"
            )

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
            if job.state == RUNNING:
                runtime = cli.age(job.started_at, now)
            else:  # the last run's; none before the first
                runtime = "" if job.state == PENDING else cli.duration(job.runtime)
            rows.append([
                job.id, job.state, cli.flags(job), cli.progress(job.prog_value),
                f"{job.priority:03d}{'F' if job.force else ''}", cli.attempt(job),
                job.enqueued_by, job.enqueued_at.strftime("%Y-%m-%d %H:%M:%S"),
                cli.age(job.enqueued_at, now), runtime, job.locked_by or "", job.name,
            ])  # fmt: skip
        if not rows:
            self.stdout.write("no jobs.")
            return
        headers = ["_id", "state", "flag", "prog", "prio", "attempt", "user", "enqueued", "age",
                   "runtime", "worker", "name"]  # fmt: skip
        self.stdout.write(cli.table(rows, headers))

    def detail(self, ids: list[str]):
        for key in ids:
            job = Job.objects.filter(pk=key).first()
            jobs = [job] if job else list(Job.objects.filter(journaled=False, name=key)[:1])
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

    def schedules(self):
        rows = [
            [
                s.id, s.name, schedules.describe(s), s.timezone,
                ("yes" if s.enabled else f"no: {s.reason}" if s.reason else "no")
                + (" (class)" if s.source == Schedule.CLASS else ""),
                cli.when(s.next_run), cli.when(s.last_run), s.last_outcome,
            ]
            for s in Schedule.objects.order_by("next_run", "id")[:10_000]
        ]  # fmt: skip
        if not rows:
            self.stdout.write("no schedules.")
            return
        headers = ["_id", "name", "schedule", "zone", "enabled", "next run (UTC)",
                   "last run (UTC)", "outcome"]  # fmt: skip
        self.stdout.write(cli.table(rows, headers))

    def schedule_action(self, action: str, schedule_id: str, reason: str = "") -> None:
        try:
            if action == "run":
                job = schedules.run_now(schedule_id, by=self.by)
                self.stdout.write(f"schedule [{schedule_id}]: enqueued [{job.id}]")
                return
            if action == "enable":
                schedule, changed = schedules.enable(schedule_id, by=self.by)
            else:
                schedule, changed = schedules.disable(schedule_id, reason, by=self.by)
        except JobError as exc:
            raise CommandError(str(exc)) from None
        state = "enabled" if schedule.enabled else "disabled"
        nxt = f", next run {cli.when(schedule.next_run)} UTC" if schedule.next_run else ""
        self.stdout.write(f"schedule [{schedule_id}]: {state}{'' if changed else ' already'}{nxt}")

    # --- acting ------------------------------------------------------------------------------
    def _targets(self, keys: list[str], verb: str) -> tuple[list[str], list[str]]:
        """The job ids ``keys`` name, and one error line per key that names none.

        A key is a job id (finished or not: the action says what it can do with it) or a
        qualified name meaning every unfinished job of that name — which needs ``--yes`` or
        a "y" on a terminal, since one word may reach many jobs.
        """
        ids: list[str] = []
        errors: list[str] = []
        named: dict[str, list[str]] = {}
        for key in keys:
            if Job.objects.filter(pk=key).exists():
                ids.append(key)
                continue
            found = [job.id for job in Job.objects.filter(journaled=False, name=key).order_by("id")]
            if found:
                named[key] = found
                ids.extend(found)
            else:
                errors.append(f"failed to {verb} [{key}]: job [{key}] not found")
        if named and not self.yes:
            self._confirm(named, verb)
        return list(dict.fromkeys(ids)), errors

    def _confirm(self, named: dict[str, list[str]], verb: str) -> None:
        count = sum(len(found) for found in named.values())
        what = ", ".join(f"{len(found)} of [{name}]" for name, found in named.items())
        jobs = "job" if count == 1 else "jobs"
        if self.stdin is None or not self.stdin.isatty():  # no terminal to ask on
            raise CommandError(f"refusing to {verb} {count} {jobs} by name ({what}) without --yes")
        self.stdout.write(f"{verb} {count} unfinished {jobs} ({what})? [y/N] ", ending="")
        self.stdout.flush()
        answer = self.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            raise CommandError(f"nothing to {verb}: not confirmed")

    def each(self, keys, action, done: str, verb: str, report=None):
        """Apply ``action`` to every job named by ``keys``: a line per job on stdout, and one
        line per failure on stderr (the exit is then non-zero); nothing else.

        ``report(job_id, result)`` words a success line (default: ``<done> [<id>]``).
        """
        ids, errors = self._targets(keys, verb)
        for job_id in ids:
            try:
                result = action(job_id, by=self.by)
            except JobError as exc:
                errors.append(f"failed to {verb} [{job_id}]: {exc}")
            else:
                self.stdout.write(report(job_id, result) if report else f"{done} [{job_id}]")
        if errors:
            raise CommandError("\n".join(errors))

    def pause(self, project):
        try:
            entered = services.pause(project, by=self.by)
        except JobError as exc:
            raise CommandError(str(exc)) from None
        where = f" on [{project}]" if project else ""
        self.stdout.write(
            f"entering maintenance{where}"
            if entered
            else f"in maintenance{where} already, nothing to do"
        )

    def resume(self, project):
        try:
            left = services.resume(project, by=self.by)
        except JobError as exc:
            raise CommandError(str(exc)) from None
        where = f" on [{project}]" if project else ""
        self.stdout.write(
            f"leaving maintenance{where}" if left else f"not in maintenance{where}, nothing to do"
        )
