"""Where grading jobs run: a local thread pool, or a Dask cluster (``dask.distributed``).

:func:`run_jobs` calls ``function(job)`` for every job and hands each :class:`Outcome`
to ``on_result`` in the calling thread as it finishes, so the caller stays the gradebook's
only writer. Locally, threads are enough: every job spends its time in subprocesses (the
sandboxed kernel and judge). With ``scheduler`` the same jobs go to a Dask cluster: the
workers import ``function`` by its module path, so they run this kit from a checkout at
the same path (a shared filesystem) with the same venv. Check a cluster with::

    python -m grading.autograde.engine check --scheduler tcp://host:8786   # or a scheduler file
"""

from __future__ import annotations

import argparse
import hashlib
import math
import re
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from grading.course import COURSE, GRADING, REPO, SUBMITTED

if TYPE_CHECKING:
    from distributed import Client, Future


class EngineError(RuntimeError):
    """The cluster cannot be reached or cannot grade: the message names the fix."""


@dataclass(frozen=True)
class Outcome:
    """What became of one job."""

    job: Any
    """The job as given to :func:`run_jobs`."""
    result: Any
    """``function(job)``'s return value; None on error."""
    error: str | None
    """One line, ``"ExceptionType: message"`` or ``"worker lost: …"``; None on success."""
    seconds: float
    """Time the job ran (on the Dask path, for a lost worker: since the run started)."""

    @property
    def ok(self) -> bool:
        return self.error is None


def run_jobs(
    function: Callable[[Any], Any],
    jobs: Sequence[Any],
    *,
    workers: int = 2,
    scheduler: str | None = None,
    on_result: Callable[[Outcome], None] | None = None,
    progress: bool = True,
) -> list[Outcome]:
    """``function(job)`` for every job; the outcomes in job order.

    ``scheduler`` None runs ``workers`` threads here; otherwise it is a Dask scheduler's
    address (``tcp://host:8786``) or scheduler file, whose workers set the parallelism.
    ``on_result`` gets each outcome in this thread, in completion order. A job's exception
    or its worker's death is that job's error; the others go on. On Ctrl-C the jobs not
    started are cancelled and, once every finished outcome has gone to ``on_result``, the
    KeyboardInterrupt is re-raised.
    """
    jobs = list(jobs)
    outcomes: list[Outcome | None] = [None] * len(jobs)
    meter = Progress(len(jobs)) if progress else None

    def deliver(index: int, outcome: Outcome) -> None:
        outcomes[index] = outcome
        if meter:
            meter.update(outcome)
        if on_result:
            on_result(outcome)

    try:
        if scheduler is None:
            _run_threads(function, jobs, workers, deliver)
        else:
            _run_dask(function, jobs, scheduler, deliver)
    finally:
        if meter:
            meter.close()
    return outcomes  # type: ignore[return-value]  # every slot is filled once the run returns


def _run_one(function: Callable[[Any], Any], job: Any) -> tuple[Any, str | None, float]:
    """``function(job)`` as (result, error, seconds); runs on the worker, so the error
    travels as text and never as an exception the caller might not be able to unpickle."""
    start = time.perf_counter()
    try:
        return function(job), None, time.perf_counter() - start
    except (Exception, SystemExit) as e:  # a main() called as a function exits, never kills the run
        return None, _one_line(e), time.perf_counter() - start


def _one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:500]}" if lines else type(error).__name__


Deliver = Callable[[int, Outcome], None]


def _run_threads(function: Callable, jobs: list, workers: int, deliver: Deliver) -> None:
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grading-job")
    futures = {pool.submit(_run_one, function, job): i for i, job in enumerate(jobs)}
    delivered = set()

    def outcome(future) -> Outcome:
        return Outcome(jobs[futures[future]], *future.result())

    try:
        for future in as_completed(futures):
            delivered.add(future)
            deliver(futures[future], outcome(future))
    except KeyboardInterrupt:
        # Running jobs cannot be stopped from here: the caller ends them (the grader kills
        # its sandboxes, grading.autograde.sandbox.stop_all); the interpreter joins the threads at exit.
        pool.shutdown(wait=False, cancel_futures=True)
        for future in futures:
            if future not in delivered and future.done() and not future.cancelled():
                deliver(futures[future], outcome(future))
        raise
    pool.shutdown()


def _run_dask(function: Callable, jobs: list, scheduler: str, deliver: Deliver) -> None:
    # Imported here: distributed takes a second to import, which the local path never pays.
    from distributed import as_completed as dask_completed

    client = connect(scheduler)
    started = time.perf_counter()
    try:
        run = uuid.uuid4().hex[:8]
        name = getattr(function, "__name__", "job")
        futures = {
            # A key per job and run: Dask merges equal keys, and two equal jobs are two runs.
            client.submit(_run_one, function, job, key=f"{name}-{i}-{run}"): i
            for i, job in enumerate(jobs)
        }
        pending = set(futures)
        try:
            for future in dask_completed(futures, loop=client.loop):
                pending.discard(future)
                index = futures[future]
                deliver(index, _dask_outcome(future, jobs[index], started))
                future.release()
        except KeyboardInterrupt:
            for future in list(pending):
                if future.status in ("finished", "error"):
                    pending.discard(future)
                    deliver(futures[future], _dask_outcome(future, jobs[futures[future]], started))
            client.cancel(list(pending))
            raise
    finally:
        client.close()


def _dask_outcome(future: Future, job: Any, started: float) -> Outcome:
    from distributed import KilledWorker
    from distributed.client import FutureCancelledError

    try:
        # Blocks when the worker holding a finished result died since: Dask computes it again.
        return Outcome(job, *future.result())
    except KilledWorker:
        error = (
            "worker lost: every worker that ran this job died while running it "
            "(Dask KilledWorker; the workers' logs say why: memory, a crash, os._exit)"
        )
    except FutureCancelledError:
        error = "worker lost: the cluster dropped the job (did the scheduler restart?)"
    except Exception as e:  # outside the job, which _run_one guards: e.g. it did not unpickle
        error = _one_line(e)
    return Outcome(job, None, error, time.perf_counter() - started)


class Progress:
    """One line on ``stream``: rewritten in place on a terminal, every ``step`` of the jobs
    otherwise (a log file gets ten lines, not six hundred)."""

    def __init__(self, total: int, stream: TextIO | None = None, step: float = 0.1) -> None:
        self.total, self.stream = total, stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every = max(1, math.ceil(total * step))
        self.done = self.failed = 0
        self.job_seconds = 0.0
        self.start = time.perf_counter()

    def update(self, outcome: Outcome) -> None:
        self.done += 1
        self.failed += not outcome.ok
        self.job_seconds += outcome.seconds
        if self.tty:
            self.stream.write(f"\r{self.line()}\x1b[K")
            self.stream.flush()
        elif self.done % self.every == 0 or self.done == self.total:
            print(self.line(), file=self.stream, flush=True)

    def line(self) -> str:
        elapsed = time.perf_counter() - self.start
        mean = self.job_seconds / max(self.done, 1)
        if self.done == self.total:
            rest = f"{_clock(elapsed)} in all"
        else:
            # From the throughput so far, which already counts the parallelism.
            rest = f"ETA {_clock(elapsed / max(self.done, 1) * (self.total - self.done))}"
        return f"graded {self.done}/{self.total}, {self.failed} failed, {mean:.1f} s/job, {rest}"

    def close(self) -> None:
        if self.tty and self.done:
            self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def connect(scheduler: str) -> Client:
    """A client of the Dask scheduler at an address or named by a scheduler file."""
    from distributed import Client

    address = "://" in scheduler or re.fullmatch(r"[\w.-]+:\d+", scheduler)
    if not address and not Path(scheduler).is_file():
        raise EngineError(
            f"no Dask scheduler file at {scheduler} (nor an address like tcp://host:8786): "
            "start one with `dask scheduler --scheduler-file FILE` on a filesystem this "
            "machine shares with the cluster, or pass the scheduler's address"
        )
    try:
        if address:
            return Client(scheduler, timeout="20s", set_as_default=False)
        return Client(scheduler_file=scheduler, timeout="20s", set_as_default=False)
    except OSError as e:  # TimeoutError and refused connections alike
        raise EngineError(
            f"cannot reach the Dask scheduler {scheduler} ({_one_line(e)}): is `dask "
            "scheduler` running, is its port (8786) open to this machine, and is the "
            "scheduler file a current one?"
        ) from e


def kit_fingerprint() -> str:
    """A hash of the grading and helpers sources: equal on two machines running this kit."""
    digest = hashlib.sha256()
    files = [p for d in (GRADING, REPO / "helpers") for p in (*d.rglob("*.py"), *d.rglob("*.toml"))]
    for path in sorted(files):
        if COURSE in path.parents or SUBMITTED in path.parents:
            continue
        digest.update(path.relative_to(REPO).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def worker_report(course: str, token: str) -> dict[str, Any]:
    """What :func:`check` compares, as one worker sees it."""
    import helpers  # noqa: F401  # the kit's package must import here, not just grading

    marker = Path(course) / f".engine-check-{token}"
    return {
        "kit": kit_fingerprint(),
        "root": str(REPO),
        "python": sys.executable,
        "versions": {name: metadata.version(name) for name in ("torch", "nbgrader", "dask")},
        "course": Path(course).is_dir(),
        "shared": marker.is_file() and marker.read_text() == token,
    }


def check(scheduler: str, course: Path = COURSE, out: TextIO | None = None) -> list[str]:
    """Print the cluster's workers; return one problem per line (none: it can grade)."""
    out = out or sys.stdout
    course = course.resolve()
    client = connect(scheduler)
    if not course.is_dir():
        client.close()
        return [f"no course directory {course} here: run `make release` first, or pass --course"]
    token = uuid.uuid4().hex
    # Written here, read by every worker: the same path on another machine proves nothing
    # unless it is the same directory.
    marker = course / f".engine-check-{token}"
    try:
        marker.write_text(token)
        info = client.scheduler_info(n_workers=-1)
        workers = info["workers"]
        threads = sum(w["nthreads"] for w in workers.values())
        print(f"scheduler {info['address']}: {len(workers)} workers, {threads} threads", file=out)
        if not workers:
            return [
                "the scheduler has no workers: start them with `dask worker --scheduler-file "
                "FILE --nthreads N` from this kit's venv (.venv/bin/dask)"
            ]
        # eval, a builtin, unpickles on any worker; a function of grading would fail to
        # unpickle where grading does not import, and the worker would answer with a bare
        # deserialization error instead of the import error this check exists to show.
        probe = (
            "__import__('grading.autograde.engine').autograde.engine"
            f".worker_report({str(course)!r}, {token!r})"
        )
        reports = client.run(eval, probe, on_error="return")
    finally:
        marker.unlink(missing_ok=True)
        client.close()
    mine = worker_report(str(course), token) | {"shared": True}
    problems = []
    for address in sorted(workers):
        report = reports.get(address)
        nthreads = workers[address]["nthreads"]
        problem = _problem(address, report, mine, course)
        status = "ok" if problem is None else "FAILED"
        kit = report["kit"] if isinstance(report, dict) else "-"
        threads = f"{nthreads} thread{'s' * (nthreads != 1)}"
        print(f"  {address}  {threads}  kit {kit}  {status}", file=out)
        if problem:
            problems.append(problem)
    if not problems:
        print(
            f"check OK: every worker imports this kit ({mine['kit']}, {REPO}) and sees {course}",
            file=out,
        )
    return problems


def _problem(address: str, report: Any, mine: dict, course: Path) -> str | None:
    same_venv = (
        f"start the workers with this kit's venv ({REPO / '.venv/bin/dask'} worker …) "
        "from a checkout at the same path on a shared filesystem"
    )
    if not isinstance(report, dict):
        error = _one_line(report) if isinstance(report, BaseException) else "no answer"
        return f"{address} cannot import the kit ({error}): {same_venv}"
    if report["kit"] != mine["kit"]:
        return (
            f"{address} runs another version of grading/ and helpers/ (kit {report['kit']} "
            f"from {report['root']}, here {mine['kit']} from {REPO}): use one checkout on a "
            "shared filesystem (or the same commit everywhere) and restart the workers"
        )
    versions = [
        f"{name} {theirs} (here {mine['versions'][name]})"
        for name, theirs in report["versions"].items()
        if theirs != mine["versions"][name]
    ]
    if versions:
        return f"{address} has {', '.join(versions)} ({report['python']}): {same_venv}"
    if not report["course"] or not report["shared"]:
        seen = "a different directory at that path" if report["course"] else "no such directory"
        return (
            f"{address} does not see the course directory {course} ({seen}): put it on a "
            "filesystem every worker mounts at the same path (NFS, the cluster's home or "
            "scratch), or pass --course a shared one"
        )
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grading.autograde.engine", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    checking = commands.add_parser("check", help="can this cluster grade? (workers, kit, course)")
    checking.add_argument("--scheduler", required=True, help="tcp://host:8786 or a scheduler file")
    checking.add_argument("--course", type=Path, default=COURSE, help=f"default {COURSE}")
    args = parser.parse_args(argv)
    try:
        problems = check(args.scheduler, args.course)
    except EngineError as e:
        problems = [str(e)]
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
