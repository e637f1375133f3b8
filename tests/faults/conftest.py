"""The fault-injection harness: a real SMTP server, the test's Redis as broker, real Celery worker
processes on the test database (each in its own process group, so a test can SIGKILL one), and a
producer that sends tasks by name as the web and beat processes do."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from celery import Celery
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]

# The test workers' clock, short so that recovery takes seconds, in the production relation:
# time limit < message lease (a send is never taken from a live worker) < visibility timeout.
WORKER_SETTINGS = {
    "CELERY_TASK_SOFT_TIME_LIMIT": "10",
    "CELERY_TASK_TIME_LIMIT": "12",
    "MESSAGE_LEASE_SECONDS": "15",
    "CELERY_MAX_COUNTDOWN": "10",
    "CELERY_VISIBILITY_TIMEOUT": "20",
}


def second_connection() -> psycopg.Connection:
    """Another connection to the test database, for a transaction the test holds open (a busy
    checkout holding a row lock)."""
    settings_dict = connection.settings_dict
    return psycopg.connect(
        host=settings_dict["HOST"],
        port=settings_dict["PORT"],
        user=settings_dict["USER"],
        password=settings_dict.get("PASSWORD") or None,
        dbname=settings_dict["NAME"],
    )


def waiting_for_a_lock() -> bool:
    """Is some session of the test database waiting for a row lock?"""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], bool], *, seconds: float, what: str, tick: Callable[[], None] | None = None):
    """Poll ``condition`` until it holds; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {seconds} s waiting for {what}")
        if tick is not None:
            tick()
        time.sleep(0.2)  # polling, with a deadline


class SlowSmtpServer:
    """Accepts every mail, at a server's pace, and holds the conversation that follows
    ``hold_after`` deliveries at RCPT until ``release()``: a mail is delivered only once the
    server has its DATA, so a client killed while held has delivered nothing."""

    def __init__(self, hold_after: int) -> None:
        self.hold_after = hold_after
        self.delivered: list[Envelope] = []
        self.held = 0
        self._lock = threading.Lock()
        self._released = threading.Event()

    def release(self) -> None:
        self._released.set()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        await asyncio.sleep(0.02)  # a real server takes a moment
        with self._lock:
            hold = len(self.delivered) >= self.hold_after and not self._released.is_set()
            self.held += int(hold)
        while hold and not self._released.is_set():
            await asyncio.sleep(0.05)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._lock:
            self.delivered.append(envelope)
        return "250 Message accepted for delivery"

    def keys(self) -> Counter[str]:
        """How many times each outbox message (by its key) was delivered."""
        with self._lock:
            envelopes = list(self.delivered)
        return Counter(
            str(email.message_from_bytes(bytes(envelope.content), policy=email.policy.default)["X-Vastavuoro-Message"])
            for envelope in envelopes
        )


@pytest.fixture
def smtp_server(request: pytest.FixtureRequest) -> Iterator[tuple[SlowSmtpServer, int]]:
    """A real SMTP server on loopback; a test module sets ``SMTP_HOLD_AFTER`` to have it hold a
    conversation after that many deliveries."""
    server = SlowSmtpServer(hold_after=getattr(request.module, "SMTP_HOLD_AFTER", 10**9))
    controller = Controller(server, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield server, controller.port
    finally:
        server.release()
        controller.stop()


@pytest.fixture
def broker() -> Iterator[tuple[str, redis.Redis]]:
    """The test's Redis database, empty before and after."""
    url = os.environ["TEST_REDIS_URL"]
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url, client
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def start_worker(
    tmp_path: Path, broker: tuple[str, redis.Redis], smtp_server: tuple[SlowSmtpServer, int]
) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Start real workers, each in its own process group; every one still running is stopped at
    the end, also when the test fails."""
    settings_dict = connection.settings_dict
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        "DEBUG": "false",
        "DATABASE_URL": f"postgres://{settings_dict['USER']}{password}@{settings_dict['HOST']}:"
        f"{settings_dict['PORT']}/{settings_dict['NAME']}",
        "CELERY_BROKER_URL": broker[0],
        "CELERY_RESULT_BACKEND": "",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "REDIS_URL": "",
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_server[1]}",
        "VAR_DIR": str(tmp_path),
        "LOG_LEVEL": "INFO",
        **WORKER_SETTINGS,
    }
    workers: list[subprocess.Popen[bytes]] = []
    logs = []

    def start() -> subprocess.Popen[bytes]:
        number = len(workers) + 1
        log = (tmp_path / f"worker-{number}.log").open("wb")
        logs.append(log)
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=prefork",
                "--concurrency=2",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
                f"--hostname=killed-test-{number}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the pool processes die with it
        )
        workers.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(worker.pid, signal.SIGKILL)
                    worker.wait(timeout=30)
        for log in logs:
            log.close()
        for path in sorted(tmp_path.glob("worker-*.log")):  # pytest shows them when the test fails
            print(f"--- {path.name}", path.read_text(errors="replace")[-4000:], sep="\n")


@pytest.fixture
def producer(broker: tuple[str, redis.Redis]) -> Iterator[Celery]:
    """Sends tasks by name to the test's Redis, as the web processes and beat do. Not the current
    app: the suite's own app and its settings stay as they are."""
    client = Celery("worker-killed-test", broker=broker[0], set_as_current=False)
    client.conf.update(accept_content=["json"], task_serializer="json", broker_connection_retry_on_startup=True)
    try:
        yield client
    finally:
        client.close()
