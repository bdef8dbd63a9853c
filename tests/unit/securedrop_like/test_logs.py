"""Log lines hold nothing about a request, at any level: gunicorn's (every log call
in its source, read from the installed package) and ours."""

from __future__ import annotations

import ast
import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import gunicorn
import pytest
from gunicorn.config import Config as GunicornConfig

from securedrop_like.gunicorn_worker import QuietLogger
from securedrop_like.logs import (
    MALFORMED_REQUEST,
    REQUEST_FAILED,
    SERVER_MESSAGES,
    DayFreeFormatter,
    RedactingFilter,
    configure_logging,
    redact,
)

HEX_ID = "5f0c1e2d3a4b5c6d7e8f90a1b2c3d4e5"
ADDRESS = "203.0.113.9"
IPV6 = "2001:db8::7"
# What a client controls, as a log argument could carry it.
REQUEST_DATA = (
    f"{ADDRESS} [{IPV6}] GET /case/{HEX_ID}?q=1 HTTP/1.1 "
    "User-Agent: AgentCanary/1.0 12:34:56 tulip-orbit-canary"
)
SERVER_DATA = f"('{ADDRESS}', 8080) 12:34:56"
LEAKS = re.compile(
    rf"{re.escape(ADDRESS)}|{re.escape(IPV6)}|{HEX_ID}|AgentCanary|/case/|HTTP/1|12:34|canary", re.I
)
CLOCK = re.compile(r"\d{1,2}:\d{2}:\d{2}")
LEVELS = {"debug", "info", "warning", "error", "critical", "exception"}


def gunicorn_templates() -> Iterator[tuple[str, str, int]]:
    """(where, template, number of arguments) of every log call in gunicorn's source."""
    root = Path(gunicorn.__file__).parent
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = ast.unparse(node.func.value)
            if node.func.attr not in LEVELS or not owner.endswith(("log", "logger")):
                continue
            if node.args and isinstance(node.args[0], ast.Constant):
                if isinstance(node.args[0].value, str):
                    where = f"{path.relative_to(root)}:{node.lineno}"
                    yield where, node.args[0].value, len(node.args) - 1


@pytest.fixture
def quiet_logger(tmp_path: Path) -> Iterator[tuple[QuietLogger, Path]]:
    cfg = GunicornConfig()
    out = tmp_path / "error.log"
    cfg.set("errorlog", str(out))
    cfg.set("loglevel", "debug")
    logger = QuietLogger(cfg)
    yield logger, out
    for handler in list(logger.error_log.handlers):
        logger.error_log.removeHandler(handler)
        handler.close()


def _failure() -> BaseException:
    try:
        raise ValueError(f"could not parse {REQUEST_DATA}")
    except ValueError as exc:
        return exc


def test_the_scan_finds_gunicorns_log_calls() -> None:
    templates = {template for _, template, _ in gunicorn_templates()}
    assert "Ignored premature client disconnection. %s" in templates
    assert "Error handling request %s %s" in templates
    assert len(templates) > 50


def test_no_gunicorn_log_line_carries_request_data_at_any_level(
    quiet_logger: tuple[QuietLogger, Path],
) -> None:
    logger, out = quiet_logger
    calls = list(gunicorn_templates())
    # Built at run time in gunicorn, so not found as literals by the scan.
    calls += [
        ("arbiter.py", "Worker (pid:%s) was sent %s!", 2),
        (
            "workers/base.py",
            f"Invalid request from ip={ADDRESS}: Invalid request line '{REQUEST_DATA}'",
            0,
        ),
        ("sock.py", f"Connection in use: ('{ADDRESS}', 8080)", 0),
    ]
    for _where, template, n in calls:
        # The messages about gunicorn's own processes keep their arguments: a
        # pid, a signal, the address it listens on (which is taken out too).
        data = SERVER_DATA if SERVER_MESSAGES.match(template) else REQUEST_DATA
        for level in ("debug", "info", "warning", "error", "critical"):
            getattr(logger, level)(template, *([data] * n), exc_info=_failure())
        logger.exception(template, *([data] * n), exc_info=_failure())
    written = out.read_text(encoding="utf-8")
    assert len(written.splitlines()) >= 6 * len(calls)
    assert not LEAKS.search(written), LEAKS.search(written)
    assert not CLOCK.search(written)
    assert "Traceback" not in written
    assert "(ValueError)" in written  # the type of an exception, not its text


def test_gunicorn_lines_have_no_time_and_name_a_fixed_event(
    quiet_logger: tuple[QuietLogger, Path],
) -> None:
    logger, out = quiet_logger
    logger.warning(f"Invalid request from ip={ADDRESS}: Invalid HTTP request line: 'GET /x'")
    logger.info("Listening at: %s (%s)", f"http://{ADDRESS}:8080", 1234)
    logger.info("Booting worker with pid: %s", 4321)
    logger.access(None, None, {}, None)  # never written
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines == [
        f"WARNING gunicorn.error: {MALFORMED_REQUEST}",
        "INFO gunicorn.error: Listening at: http://[address]:8080 (1234)",
        "INFO gunicorn.error: Booting worker with pid: 4321",
    ]


def test_our_loggers_and_flasks_go_through_the_same_formatter_and_filter() -> None:
    configure_logging()
    root = logging.getLogger()
    assert any(
        isinstance(h.formatter, DayFreeFormatter)
        and any(isinstance(f, RedactingFilter) for f in h.filters)
        for h in root.handlers
    )
    count = len(root.handlers)
    configure_logging()  # idempotent
    assert len(root.handlers) == count

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(DayFreeFormatter())
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("tests.logs")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.DEBUG)
    try:
        # What Flask logs when an error handler itself fails:
        log.error("Exception on %s [%s]", f"/case/{HEX_ID}", "POST", exc_info=_failure())
        log.error("unexpected error: %s", "KeyError")
        log.warning("%s", REQUEST_DATA)
        log.info("wiped %d orphaned upload(s)", 3)
    finally:
        log.removeHandler(handler)
    assert stream.getvalue().splitlines() == [
        f"ERROR tests.logs: {REQUEST_FAILED} (ValueError)",
        "ERROR tests.logs: unexpected error: KeyError",
        "WARNING tests.logs: an event about a request (details left out)",
        "INFO tests.logs: wiped 3 orphaned upload(s)",
    ]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (f"seen {ADDRESS} at 10:11:12", "seen [address] at [time]"),
        (f"seen [{IPV6}] and ::1", "seen [address] and [address]"),
        (f"item {HEX_ID}", "item [id]"),
        ("pid 1234 exited", "pid 1234 exited"),
    ],
)
def test_scrubbing(message: str, expected: str) -> None:
    assert redact(message) == expected
