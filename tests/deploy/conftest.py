"""Fixtures for the deploy tests: the cached base root, `make dist`, and applied roots.

The roots the collected tests ask for (reporting, map, the fresh one a backup is restored
onto) are copied and applied in parallel threads as soon as the first one is wanted; each
test module then takes its own from :class:`Farm` (applied once, reused by every test in
the module). Everything lives under ``.cache/deploy/run-<pid>-*`` and is removed (after
unmounting) at the end of the session.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.deploy import harness

# Each part's wall-clock time, printed at the end of the session (pytest -s or -rA shows it).
TIMINGS: dict[str, float] = {}


def timed(name: str, seconds: float) -> None:
    TIMINGS[name] = TIMINGS.get(name, 0.0) + seconds


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.slow)
            # Applying a root can take minutes on a loaded machine; a test's fixtures count
            # towards its timeout. Every subprocess has its own, shorter timeout as well.
            item.add_marker(pytest.mark.timeout(900))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TIMINGS:
        terminalreporter.section("deploy timings")
        for name, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{name:<40} {seconds:7.1f}s")


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    """This session's folder for roots and logs, beside the cache (same filesystem)."""
    path = harness.runs_dir()
    yield path
    started = time.monotonic()
    harness.remove_root(path)
    timed("remove roots", time.monotonic() - started)


@pytest.fixture(scope="session")
def base_root() -> Path:
    started = time.monotonic()
    root = harness.base_root()
    timed("base root (debootstrap or cache)", time.monotonic() - started)
    return root


_dist_done: list[bool] = []


def make_dist() -> None:
    """`make dist` once per session: the wheel and wheelhouse the sesim_app role installs."""
    if _dist_done:
        return
    started = time.monotonic()
    # The project's venv is the one running these tests (`make test-deploy` made it); call
    # scripts/dist.sh with it first on PATH rather than `make dist`, whose `install`
    # prerequisite would build a second venv in a git worktree.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    proc = subprocess.run(
        ["bash", "scripts/dist.sh"],
        cwd=harness.REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, f"dist.sh failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    _dist_done.append(True)
    timed("make dist", time.monotonic() - started)


class Farm:
    """Roots prepared in parallel threads; :meth:`get` waits for one."""

    def __init__(self, base: Path, workdir: Path) -> None:
        self.base = base
        self.workdir = workdir
        self.pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="deploy-root")
        self.futures: dict[str, Future[Any]] = {}

    def new_root(self, name: str) -> Path:
        started = time.monotonic()
        root = harness.copy_root(self.base, self.workdir / name)
        timed(f"copy root {name}", time.monotonic() - started)
        return root

    def apply(self, root: Path, *, group: str, label: str, **kwargs: Any) -> harness.Applied:
        applied = harness.apply(
            root, group=group, host=root.name, log_path=self.workdir / f"{label}.log", **kwargs
        )
        timed(f"apply {label}", applied.seconds)
        return applied

    def start(self, name: str, job: Callable[[Farm], Any]) -> None:
        if name not in self.futures:
            self.futures[name] = self.pool.submit(job, self)

    def get(self, name: str, timeout: float = 900) -> Any:
        return self.futures[name].result(timeout=timeout)

    def close(self) -> None:
        for future in self.futures.values():
            future.cancel()
        self.pool.shutdown(wait=True)


# Jobs the test modules register: fixture name -> job. A session's farm starts every job
# whose fixture some collected test uses, all at once.
JOBS: dict[str, Callable[[Farm], Any]] = {}


def job(fixture_name: str) -> Callable[[Callable[[Farm], Any]], Callable[[Farm], Any]]:
    def register(fn: Callable[[Farm], Any]) -> Callable[[Farm], Any]:
        JOBS[fixture_name] = fn
        return fn

    return register


@pytest.fixture(scope="session")
def farm(request: pytest.FixtureRequest, base_root: Path, workdir: Path) -> Iterator[Farm]:
    wanted = {name for item in request.session.items for name in getattr(item, "fixturenames", ())}
    the_farm = Farm(base_root, workdir)
    for name, fn in JOBS.items():
        if name in wanted:
            the_farm.start(name, fn)
    yield the_farm
    the_farm.close()
