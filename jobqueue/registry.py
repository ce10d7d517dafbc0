"""The job registry: every job class this installation may run, found once at start-up.

Job names arrive from outside — ``POST /job``, ``manage.py enqueue``, a restart, an alias, the
worker's pick of a stored job. Importing whatever module such a name points at would run that
module's import-time code in the server (``venv.__main__.X`` calls ``sys.exit`` at import and
stops daphne). So names are only ever *looked up* here; the only modules imported are the ones
the operator configured:

* the packages of ``CORE4_JOB_PACKAGES`` (default ``jobqueue.jobs``), each with all of its
  submodules;
* the ``jobs`` and ``tasks`` modules or packages of every installed app, if it has them (as
  Django's admin finds ``admin`` modules).

Every subclass of :class:`~jobqueue.job.CoreJob` defined in those modules is registered under its
qualified name (``module.Class``), and every django.tasks ``@task`` function defined there that
runs on this queue as a job class of its own under ``module.function`` (``jobqueue/tasks.py``).
A class that cannot run (no ``author`` of its own, an invalid class setting) is registered as
invalid with the reason, so that enqueueing it says why instead of "not found". A module that
fails to import is logged and remembered (``broken``); a configured package that does not exist at
all is a settings error.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import module_has_submodule

from jobqueue.errors import JobInvalid, JobNotFound
from jobqueue.job import CoreJob, class_schedule, class_settings, qual_name, validate_class
from jobqueue.tasks import TaskJob, task_jobs

log = logging.getLogger(__name__)

#: Longest job name accepted from outside (the ``Job.name`` column).
MAX_NAME_LENGTH = 255


@dataclass(frozen=True)
class JobEntry:
    """One registered job class."""

    qual_name: str
    cls: type[CoreJob]
    #: Why the class cannot run (``None``: it can).
    error: str | None = None
    #: Foreign names (``CORE4_JOB_ALIASES``) that run as this class.
    aliases: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return self.error is None

    @property
    def author(self) -> str | None:
        author = self.cls.__dict__.get("author")
        return author if isinstance(author, str) else None

    @property
    def doc(self) -> str:
        return (self.cls.__doc__ or "").strip()

    @property
    def schedule(self) -> str | None:
        """The class's own cron ``schedule`` (not inherited); None for an invalid class."""
        return class_schedule(self.cls, self.qual_name) if self.valid else None

    def settings(self) -> dict[str, Any]:
        """The class's settings (defaults for every enqueue); empty for an invalid class."""
        return class_settings(self.cls, self.qual_name) if self.valid else {}


@dataclass
class JobRegistry:
    """Job classes by qualified name, plus the aliases that point at them."""

    packages: tuple[str, ...]
    aliases: dict[str, str] = field(default_factory=dict)
    entries: dict[str, JobEntry] = field(default_factory=dict)
    #: Modules that failed to import: name → error.
    broken: dict[str, str] = field(default_factory=dict)
    modules: list[str] = field(default_factory=list)

    def discover(self) -> JobRegistry:
        for module in self._modules():
            self.modules.append(module.__name__)
            for cls in list(vars(module).values()):
                if self._is_job_class(cls, module):
                    self._add(cls)
            for task_job in task_jobs(module):  # django.tasks functions (jobqueue/tasks.py)
                self._add(task_job)
        self._link_aliases()
        return self

    def resolve(self, name: object) -> type[CoreJob]:
        """The runnable class called ``name`` (a qualified name or an alias); never imports."""
        return self.entry(name).cls

    def entry(self, name: object) -> JobEntry:
        if not isinstance(name, str) or not name.strip():
            raise JobNotFound(f"job name must be a qualified name, not {str(name)[:80]!r}")
        if len(name) > MAX_NAME_LENGTH:
            raise JobInvalid(f"job name [{name[:40]}…] longer than {MAX_NAME_LENGTH} characters")
        entry = self.entries.get(self.aliases.get(name, name))
        if entry is None:
            raise JobNotFound(f"job [{name}] not found")
        if entry.error:
            raise JobInvalid(entry.error)
        return entry

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.aliases.get(name, name) in self.entries

    def __iter__(self) -> Iterator[JobEntry]:
        return iter(sorted(self.entries.values(), key=lambda entry: entry.qual_name))

    # --- discovery ------------------------------------------------------------------------------
    def _modules(self) -> Iterator[ModuleType]:
        for package in self.packages:
            try:
                module = importlib.import_module(package)
            except ModuleNotFoundError as exc:
                if exc.name and (package == exc.name or package.startswith(exc.name + ".")):
                    raise ImproperlyConfigured(
                        f"CORE4_JOB_PACKAGES names [{package}], which does not exist"
                    ) from exc
                self._broken(package, exc)
                continue
            except Exception as exc:  # noqa: BLE001 - a broken module: say so, run the others
                self._broken(package, exc)
                continue
            yield module
            yield from self._submodules(module)

    def _submodules(self, package: ModuleType) -> Iterator[ModuleType]:
        path = getattr(package, "__path__", None)
        if path is None:
            return
        prefix = package.__name__ + "."
        for info in pkgutil.walk_packages(path, prefix=prefix, onerror=self._walk_error):
            try:
                yield importlib.import_module(info.name)
            except Exception as exc:  # noqa: BLE001 - a broken job module is reported
                self._broken(info.name, exc)

    def _walk_error(self, name: str) -> None:
        self.broken.setdefault(name, "cannot be imported")

    def _broken(self, name: str, exc: BaseException) -> None:
        self.broken[name] = f"{type(exc).__name__}: {exc}"
        log.error("job module [%s] cannot be imported: %r", name, exc)

    @staticmethod
    def _is_job_class(obj: object, module: ModuleType) -> bool:
        return (
            isinstance(obj, type)
            and issubclass(obj, CoreJob)
            and obj is not CoreJob
            and obj is not TaskJob
            and obj.__module__ == module.__name__
        )

    def _add(self, cls: type[CoreJob]) -> None:
        name = qual_name(cls)
        try:
            validate_class(cls, name)
            error = None
        except JobInvalid as exc:
            error = str(exc)
            log.warning("job class [%s] is registered as invalid: %s", name, error)
        self.entries[name] = JobEntry(name, cls, error)

    def _link_aliases(self) -> None:
        by_target: dict[str, list[str]] = {}
        for alias, target in self.aliases.items():
            if target not in self.entries:
                log.error(
                    "CORE4_JOB_ALIASES: [%s] points at [%s], which is not registered", alias, target
                )
                continue
            by_target.setdefault(target, []).append(alias)
        for target, names in by_target.items():
            entry = self.entries[target]
            self.entries[target] = JobEntry(entry.qual_name, entry.cls, entry.error, tuple(names))


def app_job_modules() -> list[str]:
    """The ``jobs`` and ``tasks`` (django.tasks) modules or packages of every installed app."""
    return [
        f"{config.name}.{name}"
        for config in apps.get_app_configs()
        for name in ("jobs", "tasks")
        if module_has_submodule(config.module, name)
    ]


def configured_packages() -> tuple[str, ...]:
    packages: Iterable[str] = [*settings.CORE4_JOB_PACKAGES, *app_job_modules()]
    return tuple(dict.fromkeys(packages))  # once each, in order


@cache
def registry() -> JobRegistry:
    """The registry of this process, discovered on first use (``JobQueueConfig.ready``)."""
    return JobRegistry(configured_packages(), dict(settings.CORE4_JOB_ALIASES)).discover()


def resolve(name: object) -> type[CoreJob]:
    """The job class for a name from outside: 404 (``JobNotFound``) if it is not registered."""
    return registry().resolve(name)


@receiver(setting_changed)
def _settings_changed(setting: str, **kwargs: Any) -> None:
    if setting in ("CORE4_JOB_PACKAGES", "CORE4_JOB_ALIASES", "INSTALLED_APPS", "TASKS"):
        registry.cache_clear()
