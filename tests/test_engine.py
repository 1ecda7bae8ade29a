"""grading.autograde.engine: jobs on local threads and on a real Dask cluster of separate processes."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from grading.autograde import engine
from tests.engine_jobs import job

REPO = Path(__file__).resolve().parents[1]
DASK = Path(sys.executable).parent / "dask"


def test_threads_deliver_in_completion_order_in_the_callers_thread():
    second_delivered = threading.Event()
    caller = threading.get_ident()
    seen: list[tuple[engine.Outcome, int]] = []

    def work(n: int) -> int:
        if n == 0:  # finishes only once the caller has been handed job 1's outcome
            return n if second_delivered.wait(timeout=20) else -1
        if n == 2:
            raise KeyError("no such student")
        if n == 4:
            sys.exit("usage: grade STUDENT")
        return n * 10

    def on_result(outcome: engine.Outcome) -> None:
        seen.append((outcome, threading.get_ident()))
        if outcome.job == 1:
            second_delivered.set()

    outcomes = engine.run_jobs(work, [0, 1, 2, 3, 4], workers=5, on_result=on_result)

    assert [o.job for o in outcomes] == [0, 1, 2, 3, 4]
    assert [o.result for o in outcomes] == [0, 10, None, 30, None]
    assert outcomes[2].error == "KeyError: 'no such student'" and not outcomes[2].ok
    assert outcomes[4].error == "SystemExit: usage: grade STUDENT"
    assert all(o.ok for i, o in enumerate(outcomes) if i not in (2, 4))
    assert sorted(o.job for o, _ in seen) == [0, 1, 2, 3, 4]  # once per job
    assert {thread for _, thread in seen} == {caller}
    assert [o.job for o, _ in seen].index(1) < [o.job for o, _ in seen].index(0)


def test_ctrl_c_cancels_the_rest_after_delivering_what_finished():
    started: list[int] = []
    delivered: list[int] = []

    def work(n: int) -> int:
        started.append(n)
        if n == 2:
            os.kill(os.getpid(), signal.SIGINT)  # the instructor's Ctrl-C
        time.sleep(0.05)
        return n

    with pytest.raises(KeyboardInterrupt):
        engine.run_jobs(work, range(40), workers=1, on_result=lambda o: delivered.append(o.job))
    time.sleep(0.3)  # a job already running when Ctrl-C came may still finish
    assert delivered[:2] == [0, 1] and len(delivered) == len(set(delivered))
    assert len(started) < 10, "the jobs not started yet were not cancelled"
    assert set(delivered) <= set(started)


def test_progress_prints_a_line_every_tenth_off_a_terminal():
    stream = io.StringIO()
    meter = engine.Progress(600, stream=stream)
    for n in range(600):
        meter.update(engine.Outcome(n, None, "ValueError: x" if n < 2 else None, 12.0))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 10
    assert re.fullmatch(r"graded 60/600, 2 failed, 12\.0 s/job, ETA \d+ s", lines[0])
    assert re.fullmatch(r"graded 600/600, 2 failed, 12\.0 s/job, \d+ s in all", lines[-1])


def test_progress_rewrites_one_line_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    meter = engine.Progress(3, stream=stream)
    for n in range(3):
        meter.update(engine.Outcome(n, n, None, 1.0))
        assert "\n" not in stream.getvalue()
    meter.close()
    updates = stream.getvalue().split("\r")[1:]
    assert len(updates) == 3 and updates[-1].startswith("graded 3/3, 0 failed, 1.0 s/job")
    assert stream.getvalue().endswith("\n")


def test_check_names_the_fix_for_each_mismatch(tmp_path):
    mine = engine.worker_report(str(tmp_path), "token") | {"shared": True}
    lost = engine._problem(
        "tcp://w:1", ModuleNotFoundError("No module named 'grading'"), mine, tmp_path
    )
    assert "No module named 'grading'" in lost and "venv" in lost and "shared filesystem" in lost
    other = engine._problem("tcp://w:1", mine | {"kit": "0" * 12}, mine, tmp_path)
    assert "another version" in other and "same commit" in other
    torch = mine | {"versions": mine["versions"] | {"torch": "2.0.0"}}
    assert "torch 2.0.0" in engine._problem("tcp://w:1", torch, mine, tmp_path)
    unshared = engine._problem("tcp://w:1", mine | {"shared": False}, mine, tmp_path)
    assert "different directory" in unshared and "mounts at the same path" in unshared
    assert engine._problem("tcp://w:1", mine, mine, tmp_path) is None


def test_a_missing_scheduler_file_names_how_to_start_one(tmp_path):
    with pytest.raises(engine.EngineError, match="dask scheduler --scheduler-file"):
        engine.run_jobs(abs, [1], scheduler=str(tmp_path / "scheduler.json"), progress=False)


@contextlib.contextmanager
def dask_cluster(tmp: Path, workers: list[dict[str, str]]) -> Iterator[Path]:
    """A scheduler and one one-thread worker per entry of ``workers`` (its extra
    environment), each its own process group, in a clean environment: no PYTHONPATH unless
    given, so the workers import the kit through the venv's .pth."""
    scheduler_file = tmp / "scheduler.json"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp),
        "LANG": "C.UTF-8",
        # One retry, not Dask's three: each costs a worker restart in the dying-job test.
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
        # As the README starts it: no job queued on a worker, so none dies with the job
        # that kills it (at Dask's 1.1, one in a few runs lost an innocent job too).
        "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0",
    }
    common = ["--scheduler-file", str(scheduler_file), "--no-dashboard"]
    worker = [str(DASK), "worker", *common, "--nthreads", "1", "--local-directory", str(tmp)]
    commands = [([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", *common], {})]
    commands += [(worker, extra) for extra in workers]
    processes = []
    try:
        for command, extra in commands:
            with open(tmp / f"{len(processes)}.log", "w") as log:
                processes.append(
                    subprocess.Popen(
                        command,
                        env=env | extra,
                        cwd=tmp,
                        stdout=log,
                        stderr=log,
                        start_new_session=True,
                    )
                )
            deadline = time.monotonic() + 60
            while not scheduler_file.exists():
                assert time.monotonic() < deadline, (tmp / "0.log").read_text()
                time.sleep(0.1)
        client = engine.connect(str(scheduler_file))
        client.wait_for_workers(len(workers), timeout=60)
        client.close()
        yield scheduler_file
    finally:
        for process in reversed(processes):
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def _two_worker_cluster(tmp_path_factory):
    with dask_cluster(tmp_path_factory.mktemp("dask"), [{}, {}]) as scheduler_file:
        yield scheduler_file


@pytest.fixture
def cluster(_two_worker_cluster):
    """The module's cluster with both workers up: a test that kills one leaves its nanny
    restarting it, and the next test would otherwise see one worker (CI did, once)."""
    client = engine.connect(str(_two_worker_cluster))
    try:
        client.wait_for_workers(2, timeout=60)
    finally:
        client.close()
    return _two_worker_cluster


def test_dask_cluster_runs_jobs_survives_an_error_and_a_dead_worker(cluster):
    caller = threading.get_ident()
    seen: list[tuple[engine.Outcome, int]] = []
    jobs = [("square", n) for n in range(8)]
    jobs[3], jobs[5] = ("raise", 3), ("die", 5)

    outcomes = engine.run_jobs(
        job,
        jobs,
        scheduler=str(cluster),
        on_result=lambda o: seen.append((o, threading.get_ident())),
        progress=False,
    )

    assert [o.job for o in outcomes] == jobs
    assert outcomes[3].error == "ValueError: bad job 3"
    assert outcomes[5].error.startswith("worker lost") and outcomes[5].result is None
    squares = {i: o.result for i, o in enumerate(outcomes) if i not in (3, 5)}
    assert all(o.ok for i, o in enumerate(outcomes) if i in squares)
    assert {i: r["square"] for i, r in squares.items()} == {i: i * i for i in squares}
    assert os.getpid() not in {r["pid"] for r in squares.values()}  # ran on the workers
    assert sorted(jobs.index(o.job) for o, _ in seen) == list(range(8))
    assert {thread for _, thread in seen} == {caller}


def _readme_check() -> tuple[str, list[str]]:
    """The check command of README's "Grading beyond one machine" and the lines it prints."""
    section = (REPO / "README.md").read_text().split("**Grading beyond one machine.**")[1]
    block = re.search(
        r"```text\n(\.venv/bin/python -m grading\.autograde\.engine check.*?)```", section, re.S
    )
    command, *shown = block.group(1).rstrip("\n").split("\n")
    return command, shown


def test_check_as_the_readme_prints_it(cluster, tmp_path):
    command, shown = _readme_check()
    argv = shlex.split(command)[1:]
    argv[argv.index("--scheduler") + 1] = str(cluster)
    result = subprocess.run(
        [sys.executable, *argv, "--course", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    printed = result.stdout.splitlines()

    # Addresses, hashes, paths and sizes differ from the README's; the shape and the
    # verdicts do not.
    def shape(line: str) -> str:
        line = re.sub(r"tcp://\S+|kit [0-9a-f]{12}|\(.*?\)|/\S+", "_", line)
        return re.sub(r"\d+ (worker|thread)s?", r"N \1", line)

    assert [shape(line) for line in printed] == [shape(line) for line in shown]
    assert "2 workers, 2 threads" in printed[0]
    assert list(tmp_path.iterdir()) == []  # the marker the workers read is gone


def test_check_fails_with_the_fix_when_the_course_is_missing(cluster, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "grading.autograde.engine", "check", "--scheduler", str(cluster),
         "--course", str(tmp_path / "nowhere")],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1 and "make release" in result.stderr


def test_ctrl_c_on_the_cluster_reraises_and_leaves_it_usable(cluster):
    delivered = []

    def on_result(outcome: engine.Outcome) -> None:
        delivered.append(outcome.job)
        if len(delivered) == 1:
            raise KeyboardInterrupt  # Ctrl-C while the first merge runs

    jobs = [("square", n) for n in range(12)]
    with pytest.raises(KeyboardInterrupt):
        engine.run_jobs(job, jobs, scheduler=str(cluster), on_result=on_result, progress=False)
    # What had finished went to on_result too, once each; the rest was cancelled.
    assert len(delivered) == len(set(delivered)) < len(jobs)
    after = engine.run_jobs(job, [("square", 9)], scheduler=str(cluster), progress=False)
    assert after[0].result["square"] == 81


def test_check_finds_a_worker_on_another_version_of_the_kit(tmp_path):
    other = tmp_path / "other-checkout"
    skip = shutil.ignore_patterns("course", "submitted", "__pycache__", "*.pt")
    for package in ("grading", "helpers"):
        shutil.copytree(REPO / package, other / package, ignore=skip)
    with open(other / "grading" / "autograde" / "judge.py", "a") as judge:
        judge.write("# a later commit\n")
    course = tmp_path / "course"
    course.mkdir()
    # The copy comes first on the path: that worker imports grading from another checkout.
    with dask_cluster(tmp_path, [{}, {"PYTHONPATH": str(other)}]) as scheduler_file:
        problems = engine.check(str(scheduler_file), course, out=io.StringIO())
    assert len(problems) == 1
    assert "another version of grading/ and helpers/" in problems[0]
    assert str(other) in problems[0] and "same commit" in problems[0]
