"""What the benchmarks share: progress output, a PostgreSQL admin connection, COPY into a model's table, gunicorn
on a free port, and a keep-alive HTTP client that signs in and times requests (median, p95)."""

import http.client
import re
import socket
import subprocess
import sys
import time
import urllib.parse
from collections import Counter
from contextlib import contextmanager
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def say(text: str) -> None:
    print(text, flush=True)


@contextmanager
def profiled(enabled: bool = True, top: int = 40):
    """Run the block under cProfile when enabled, then print where the time went: by cumulative and by own time."""
    if not enabled:
        yield
        return
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stdout)
        stats.sort_stats("cumulative").print_stats(top)
        stats.sort_stats("tottime").print_stats(top * 3 // 4)


def pg_admin(server: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(f"{server.rstrip('/')}/postgres", autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Client:
    """One keep-alive HTTP connection with the session cookie; reconnects when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.cookies: dict[str, str] = {}
        self.conn = http.client.HTTPConnection(host, port, timeout=60)

    def request(self, method: str, path: str, body: str | None = None, headers: dict | None = None):
        headers = {"Host": f"{self.host}:{self.port}", **(headers or {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionError, http.client.CannotSendRequest):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt == 2:
                    raise
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return response.status, data

    def wait_ready(self, server: subprocess.Popen, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise SystemExit("gunicorn stopped; see gunicorn.log in the data directory")
            try:
                status, _body = self.request("GET", "/healthz")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit("gunicorn did not answer /healthz in time")

    def login(self, username: str, password: str) -> None:
        status, body = self.request("GET", "/accounts/login/")
        match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        if status != 200 or not match:
            raise SystemExit(f"no login form (HTTP {status})")
        form = urllib.parse.urlencode({"username": username, "password": password, "next": "/",
                                       "csrfmiddlewaretoken": match.group(1).decode()})
        status, _body = self.request("POST", "/accounts/login/", body=form, headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": f"http://{self.host}:{self.port}/accounts/login/"})
        if status != 302 or "sessionid" not in self.cookies:
            raise SystemExit(f"login failed (HTTP {status})")


def timed(client: Client, paths: list[str], n: int, warmup: int = 5,
          headers: dict | None = None) -> tuple[list[float], Counter]:
    statuses: Counter = Counter()
    for path in paths[:warmup]:
        client.request("GET", path, headers=headers)
    times = []
    for i in range(n):
        path = paths[i % len(paths)]
        started = time.perf_counter()
        status, _body = client.request("GET", path, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        statuses[status] += 1
    return times, statuses


def trivial_again(client: Client, n: int, p95: float, median: float, width: int) -> tuple[float, float]:
    """Time the trivial view again, right before the page it is compared with, and return the faster p95 and
    median of the two measurements (the larger ratio): the machine's speed drifts within a run."""
    again, _statuses = timed(client, ["/healthz"], n)
    say(f"  {'trivial /healthz again':<{width}} median {median_of(again):7.2f} ms   p95 {p95_of(again):7.2f} ms")
    return min(p95, p95_of(again)), min(median, median_of(again))


def median_of(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def p95_of(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def copy_rows(model, columns: list[str], rows) -> int:
    """COPY rows (tuples in the order of `columns`, field names) into a model's table; return how many.

    The other required columns get their field's default (or "" for text), the same for every row.
    """
    from django.db import connection

    from fidelis.core.bulk import pg_type

    fields = [model._meta.get_field(name) for name in columns]
    rest = [f for f in model._meta.concrete_fields if f.name not in columns and not f.primary_key and not f.null]
    fill = tuple(f.get_default() if f.has_default() else "" for f in rest)
    names = ", ".join(connection.ops.quote_name(f.column) for f in [*fields, *rest])
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(
            f"COPY {connection.ops.quote_name(model._meta.db_table)} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types([pg_type(f) for f in [*fields, *rest]])
        for row in rows:
            copy.write_row(row + fill)
            count += 1
    return count


@contextmanager
def serve(data_dir: Path, username: str, password: str):
    """Run gunicorn (2 workers × 2 threads, as `fidelis demo` serves) on a free port; yield a signed-in Client."""
    from fidelis.web.management.commands.demo import gunicorn_extra_args

    port = free_port()
    log = open(data_dir / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "fidelis.config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--threads", "2", "--worker-class", "gthread", "--keep-alive", "30", *gunicorn_extra_args()],
        stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
    try:
        client = Client("127.0.0.1", port)
        client.wait_ready(server)
        client.login(username, password)
        yield client
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def run_in_fresh_database(script: Path, child_argv: list[str], *, pg_server: str, db_name: str, prefix: str,
                          error_result: dict, also_drop: tuple[str, ...] = ()) -> int:
    """Run `script --worker …` against a fresh PostgreSQL database (dropped afterwards, with `also_drop`) and a
    temporary data directory; print the JSON result it writes as the last line; return the exit status.

    Tasks run in-process (no CELERY_BROKER_URL): an event is applied before record_event returns.
    """
    import json
    import os
    import shutil
    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    env = {**os.environ, "FIDELIS_DATA_DIR": str(workdir), "DJANGO_SETTINGS_MODULE": "fidelis.config.settings",
           "DEBUG": "false", "LOG_LEVEL": "ERROR", "DATABASE_URL": f"{pg_server.rstrip('/')}/{db_name}"}
    env.pop("CELERY_BROKER_URL", None)
    result_file = workdir / "result.json"
    argv = [sys.executable, str(script), "--worker", "--result-file", str(result_file), *child_argv]
    started = time.monotonic()
    try:
        pg_admin(pg_server, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)', f'CREATE DATABASE "{db_name}"')
        completed = subprocess.run(argv, env=env, cwd=ROOT, check=False)
        if completed.returncode != 0 or not result_file.exists():
            result = {**error_result, "error": f"benchmark exited with {completed.returncode}"}
        else:
            result = json.loads(result_file.read_text(encoding="utf-8"))
            result["total_s"] = round(time.monotonic() - started, 1)
            say(f"== done in {result['total_s']} s")
    finally:
        pg_admin(pg_server, *(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in (db_name, *also_drop)))
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0 if "error" not in result else 1
