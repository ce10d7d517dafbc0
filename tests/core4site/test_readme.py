"""The README as a test: its ```bash and ```python blocks, in document order, against a live
stack — as a new user runs them in a second terminal while ``./run.sh`` serves.

A block preceded by ``<!-- readme-test: skip (why) -->`` is not run (it starts the product
itself, a foreground worker, a benchmark, or needs tools from outside); one preceded by
``<!-- readme-test: background (why) -->`` runs in the background until the end (the seed
session's watcher, a "terminal 2"), and must still be running then. Every other block must
exit 0, print no traceback and receive no error envelope (``"code": 4xx/5xx``).

The stack (``tests.support.LiveStack``: daphne and one worker, a database of its own) listens
on a free port: ``127.0.0.1:5001`` in the blocks becomes its address, ``.venv/bin/python`` and
``python`` the interpreter running the tests.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass

from tests.support import ROOT, wait_for

README = ROOT / "README.md"
BLOCK = re.compile(
    r"(?:<!-- readme-test: (?P<mode>skip|background)\b.*?-->\n)?"
    r"^```(?P<lang>bash|python)\n(?P<code>.*?)^```$",
    re.S | re.M,
)
ERROR_REPLY = re.compile(r"""["']code["']: ?([45]\d\d)""")
PYTHON = re.compile(r"(?<![\w/.-])(?:\.venv/bin/)?python(?!\w)")
MARKER = re.compile(r"^<!-- readme-test: (\w+)", re.M)


@dataclass
class Block:
    line: int
    lang: str
    mode: str
    code: str

    def __str__(self):
        return f"README.md:{self.line} ({self.lang})"


def blocks(text: str) -> list[Block]:
    found = []
    for match in BLOCK.finditer(text):
        line = text.count("\n", 0, match.start("lang")) + 1
        found.append(Block(line, match["lang"], match["mode"] or "run", match["code"]))
    return found


def rewrite(code: str, address: str) -> str:
    """The block as it runs against the stack at ``address`` (``host:port``)."""
    code = code.replace("127.0.0.1:5001", address)
    return PYTHON.sub(lambda _: sys.executable, code)


def test_blocks_are_found_and_every_marker_says_why():
    text = README.read_text()
    found = blocks(text)
    # every marker sits right before a block (none is lost on a blank line or a typo)
    assert len(MARKER.findall(text)) == sum(b.mode != "run" for b in found)
    assert {m for m in MARKER.findall(text)} <= {"skip", "background"}
    # and says why (a long-running process, or tools from outside)
    assert len(re.findall(r"^<!-- readme-test: \w+ \(.+?\) -->\n```", text, re.M)) == len(
        MARKER.findall(text)
    )
    assert sum(b.mode == "run" for b in found) >= 5, [str(b) for b in found]
    assert rewrite("python manage.py x; python3 -c 1; .venv/bin/python y", "h:1").split() == [
        sys.executable, "manage.py", "x;", "python3", "-c", "1;", sys.executable, "y",
    ]  # fmt: skip


def test_watch_events_runs_in_the_product_venv():
    """``examples/watch_events.py`` needs only what requirements.txt installs."""
    requirements = (ROOT / "requirements.txt").read_text()
    assert "requests==" in requirements and "websocket-client==" in requirements
    result = subprocess.run(  # noqa: PLW1510 - checked below with its output
        [sys.executable, "examples/watch_events.py", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "--since" in result.stdout


def test_every_readme_command_runs_in_order(live_stack):
    stack = live_stack
    # the blocks leave long jobs running (sleep=60 …): they need not finish at teardown
    stack.env["CORE4_WORKER_GRACE"] = "1"
    stack.start_daphne()
    stack.start_worker("worker-1")
    address = stack.base_url.removeprefix("http://")
    env = {**stack.env, "PYTHONUNBUFFERED": "1"}
    background: list[tuple[Block, subprocess.Popen, object]] = []
    ran = []
    shell = stack.tmp / "readme-shell.env"
    shell.write_text("")
    try:
        for block in blocks(README.read_text()):
            if block.mode == "skip":
                continue
            code = rewrite(block.code, address)
            if block.lang == "bash":
                # one terminal: variables of earlier blocks ($API, $AUTH, $JOB …) carry over
                code = f'. "{shell}"\nset -a\n{code}\nexport -p > "{shell}"\n'
            command = (
                ["bash", "-euo", "pipefail", "-c", code]
                if block.lang == "bash"
                else [sys.executable, "-c", code]
            )
            if block.mode == "background":
                log = stack.tmp / f"readme-{block.line}.log"
                handle = log.open("w")
                process = subprocess.Popen(
                    command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
                stack.processes.append((f"readme-{block.line}", process))
                background.append((block, process, log))
                # ready once it printed something — a socket watcher: the interest reply, so
                # that the next blocks' events cannot pass before it listens
                ready = "processed interest" if "create_connection" in block.code else ""
                wait_for(
                    lambda p=process, f=log, r=ready: (r in f.read_text() and f.read_text().strip())
                    or p.poll() is not None,
                    30, message=f"{block} is not ready",
                )  # fmt: skip
                assert process.poll() is None, f"{block} exited:\n{log.read_text()}"
                continue
            result = subprocess.run(  # noqa: PLW1510 - checked below with its output
                command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
            )
            output = result.stdout + result.stderr
            assert result.returncode == 0, f"{block} exited {result.returncode}:\n{output}"
            assert "Traceback" not in output, f"{block}:\n{output}"
            assert not ERROR_REPLY.findall(result.stdout), f"{block} got an error:\n{output}"
            ran.append((block, result.stdout))

        # the seed session's watcher saw its job run to the end, masked for user `test`
        for block, process, log in background:
            assert process.poll() is None, f"{block} exited:\n{log.read_text()}"
        seed = next(log for block, _, log in background if "create_connection" in block.code)
        wait_for(lambda: "complete_job" in seed.read_text(), 40, 0.2, "no complete_job")
        frames = seed.read_text()
        assert "processed interest in ['queue']" in frames
        assert "enqueue_job" in frames and "start_job" in frames
        assert "UnauthorizedJob" in frames
    finally:
        for _, process, _ in background:
            stack.terminate(process)

    # what the blocks printed: the API's front page in the tour, the job API's follow stream
    printed = "\n".join(out for _, out in ran)
    assert '"endpoints": [' in printed
    assert "event: close" in printed and '"reason":"final"' in printed
    assert "close {'state'" in printed  # the Python follow example
    assert "exists with args" in printed  # "Enqueue from Python"
    assert "SUCCESSFUL" in printed  # "django.tasks": the worker ran the example task
