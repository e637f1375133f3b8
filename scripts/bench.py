"""Benchmark the purchase path: gunicorn (sync workers) on PostgreSQL, purchases over HTTP.

    make bench                       # defaults below
    BENCH_REQUESTS=3000 BENCH_CONCURRENCY=8 BENCH_WORKERS=4 make bench

Creates (and afterwards drops) the database ``vastavuoro_bench`` on the local PostgreSQL, loads a
small programme and BENCH_CUSTOMERS customers, starts gunicorn on a free loopback port, sends
BENCH_REQUESTS purchases from BENCH_CONCURRENCY client threads (keep-alive connections), and
prints throughput, latency percentiles and the result of verify_ledger. The load generator runs
on the same machine, so it takes some of the CPU the server could use: the numbers are a floor.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PG = os.environ.get("BENCH_PG", "postgres://root@127.0.0.1:5432")
DB = "vastavuoro_bench"
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "2000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "8"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "500"))
LINES = int(os.environ.get("BENCH_LINES", "2"))


def run(*args: str, env: dict[str, str]) -> str:
    result = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if result.returncode:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def psql(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as connection:
        connection.execute(sql)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SETUP = """
from decimal import Decimal
from customers.models import Partner
from customers.services import customer_register, partner_key_create
from loyalty.demo import _programme
_programme()
partner = Partner.objects.create(name="Bench POS")
_row, key = partner_key_create(partner=partner, scopes=["purchases:write", "customers:read"])
ids = [str(customer_register(email=f"bench{{i}}@example.fi", first_name="Bench").customer.public_id)
       for i in range({count})]
import json; print(json.dumps({{"key": key, "customers": ids}}))
"""


def main() -> None:
    env = {
        **os.environ,
        "DJANGO_ENV": "development",
        "DEBUG": "false",
        "DATABASE_URL": f"{PG}/{DB}",
        "ALLOWED_HOSTS": "127.0.0.1",
        "API_THROTTLE_RATE": "1000000/min",
        "LOG_LEVEL": "WARNING",
    }
    psql(f"DROP DATABASE IF EXISTS {DB}")
    psql(f"CREATE DATABASE {DB}")
    try:
        run("migrate", "--no-input", "-v0", env=env)
        setup = json.loads(run("shell", "-c", SETUP.format(count=CUSTOMERS), env=env).strip().splitlines()[-1])
        port = free_port()
        server = subprocess.Popen(
            [
                str(Path(PY).parent / "gunicorn"),
                "config.wsgi",
                "-w",
                str(WORKERS),
                "-k",
                "sync",
                "-b",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    http.client.HTTPConnection("127.0.0.1", port, timeout=2).request("GET", "/healthz")
                    break
                except OSError:
                    time.sleep(0.2)
            results = load(port, setup["key"], setup["customers"])
        finally:
            server.terminate()
            server.wait(timeout=30)
        report(results)
        print(run("verify_ledger", env=env).strip())
    finally:
        psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


def load(port: int, key: str, customers: list[str]) -> dict[str, object]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(range(REQUESTS))
    run_id = uuid.uuid4().hex[:8]
    lines = [{"sku": "ESP-1", "category": "coffee", "quantity": 2, "unit_price": "3.20"}] * LINES

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
        for number in counter:
            body = json.dumps(
                {
                    "external_id": f"{run_id}-{number}",
                    "customer": customers[number % len(customers)],
                    "amount": "12.80",
                    "currency": "EUR",
                    "occurred_at": "2026-11-01T12:00:00+02:00",
                    "lines": lines,
                }
            )
            started = time.perf_counter()
            connection.request("POST", "/api/v1/purchases/", body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses[response.status] = statuses.get(response.status, 0) + 1

    threads = [threading.Thread(target=worker) for _ in range(CONCURRENCY)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"seconds": time.perf_counter() - started, "latencies": latencies, "statuses": statuses}


def report(results: dict[str, object]) -> None:
    latencies = sorted(results["latencies"])  # type: ignore[arg-type]
    seconds = float(results["seconds"])  # type: ignore[arg-type]
    quantiles = statistics.quantiles(latencies, n=100)
    print(
        f"purchases: {len(latencies)} in {seconds:.1f} s = {len(latencies) / seconds:.0f} req/s "
        f"({WORKERS} gunicorn sync workers, {CONCURRENCY} client threads, {LINES} lines each)"
    )
    print(f"latency ms: p50 {quantiles[49] * 1000:.1f}  p95 {quantiles[94] * 1000:.1f}  p99 {quantiles[98] * 1000:.1f}")
    print(f"statuses: {results['statuses']}")


if __name__ == "__main__":
    main()
