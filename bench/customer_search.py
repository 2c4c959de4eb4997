#!/usr/bin/env python
"""Customer search benchmark: search latency, the 360° page and bulk import on a database of demo customers.

    python bench/customer_search.py [--quick] [--customers N] [--db sqlite|postgres|both] [--only import]
                                    [--profile-import]

For each database it makes a fresh one (an SQLite file in a temporary directory, or the database
`fidelis_bench` on the local PostgreSQL), loads `fidelis demo` data, starts gunicorn on a free 127.0.0.1 port,
signs in as the demo manager and measures, over one keep-alive connection, the median and p95 latency of:
the JSON search API (/api/customers?q=…) by the last 4 digits of a phone, by a phone prefix typed "138 0013",
by a Hanzi name, by pinyin initials and by customer number; the 360° page (/customers/<id>/), each panel it
loads after itself, and the whole page as a browser fetches it (the page, then its panels four at a time over four
connections); the home page ("my day"); and the trivial view /healthz, against which each figure is also given as
a ratio. Then it imports a CSV (with duplicates of
existing customers, duplicates within the file and a few bad rows) through the import services and gives the
rows per second (`--only import` measures that alone, without the server; `--profile-import` also prints
where its time goes). Progress goes to the screen; the last
line is one JSON object with the figures.
Targets: search p95 <= 50 ms at 1,000,000 customers; the 360° page and "my day" <= 8x the trivial view (p95); the
360° page with all its panels <= 25x; import >= 5,000 rows/s.
"""

import argparse
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from queue import SimpleQueue
from random import Random

from benchlib import Client, median_of, p95_of, pg_admin, profiled, say, serve, timed, trivial_again

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
PG_DATABASE = "fidelis_bench"
USERNAME, PASSWORD = "manager", "fidelis-demo"
HTMX = {"HX-Request": "true"}  # as htmx asks for the parts of a page
SEARCH_KINDS = ("phone_last4", "phone_prefix", "hanzi", "initials", "number")
BROWSER_CONNECTIONS = 4  # panels a browser fetches at a time, as the 360° page's target says
PANEL_URL = re.compile(r'hx-get="([^"]+)" hx-trigger="load"')  # what htmx fetches once the markup is in the page
TARGETS = {"search_p95_ms": 50, "page360_ratio": 8, "my_day_ratio": 8, "page360_full_ratio": 25,
           "import_rows_per_s": 5000}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 customers (the import stays 100,000 rows)")
    parser.add_argument("--customers", type=int, help="customers to load (default 1,000,000; --quick 100,000)")
    parser.add_argument("--import-rows", type=int,
                        help="rows of the import CSV (default 100,000, as the target says; 0 skips the import)")
    parser.add_argument("--requests", type=int, help="timed requests per kind (default 300; --quick 100)")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--pg-server", default=os.environ.get("FIDELIS_BENCH_PG", PG_SERVER),
                        help=f"PostgreSQL server URL without database (default {PG_SERVER})")
    parser.add_argument("--db-name", default=PG_DATABASE,
                        help=f"PostgreSQL database to make and drop (default {PG_DATABASE})")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=("import",), help="load the customers and measure the import alone")
    parser.add_argument("--explain", action="store_true", help="print the query plans of the searches")
    parser.add_argument("--profile-import", action="store_true",
                        help="run the import's check and import steps under cProfile (slower than measured) and "
                             "print where the time goes")
    parser.add_argument("--existing", action="store_true",
                        help="measure the database of DATABASE_URL / FIDELIS_DATA_DIR as it is (no load; the import "
                             "writes to it unless --import-rows 0)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.customers = args.customers if args.customers is not None else 100_000 if args.quick else 1_000_000
    args.import_rows = args.import_rows if args.import_rows is not None else 100_000
    args.requests = args.requests or (100 if args.quick else 300)
    return args


# ---------------------------------------------------------------------------------------------------------------
# The parent: one child process per database (Django reads its database from the environment once).


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        result = run_benchmark(args)
        Path(args.result_file).write_text(json.dumps(result), encoding="utf-8")
        return 0
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    if args.existing:
        dbs = ["postgres" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"]
    results = []
    for db in dbs:
        results.append(run_child(db, args))
    summary = results[0] if len(results) == 1 else {"results": results}
    print(json.dumps(summary, ensure_ascii=False), flush=True)
    return 0 if all("error" not in r for r in results) else 1


def run_child(db: str, args: argparse.Namespace) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix=f"fidelis-bench-{db}-"))
    env = {**os.environ, "FIDELIS_DATA_DIR": str(workdir), "DJANGO_SETTINGS_MODULE": "fidelis.config.settings",
           "DEBUG": "false", "LOG_LEVEL": "ERROR"}
    env.pop("CELERY_BROKER_URL", None)
    if args.existing:
        env["FIDELIS_DATA_DIR"] = os.environ.get("FIDELIS_DATA_DIR", str(ROOT / "data"))
    elif db == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    else:
        pg_admin(args.pg_server, f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)',
                  f'CREATE DATABASE "{args.db_name}"')
        env["DATABASE_URL"] = f"{args.pg_server.rstrip('/')}/{args.db_name}"
    result_file = workdir / "result.json"
    argv = [sys.executable, str(Path(__file__).resolve()), "--worker", "--db", db, "--result-file", str(result_file),
            "--customers", str(args.customers), "--import-rows", str(args.import_rows), "--requests",
            str(args.requests), "--seed", str(args.seed)]
    argv += [flag for flag, on in (("--explain", args.explain), ("--existing", args.existing),
                                   ("--profile-import", args.profile_import)) if on]
    argv += ["--only", args.only] if args.only else []
    say(f"== {db}: {args.customers:,} customers, {args.import_rows:,} import rows, {args.requests} requests per kind")
    started = time.monotonic()
    try:
        completed = subprocess.run(argv, env=env, cwd=ROOT, check=False)
        if completed.returncode != 0 or not result_file.exists():
            return {"customers": args.customers, "db": db, "error": f"benchmark exited with {completed.returncode}"}
        result = json.loads(result_file.read_text(encoding="utf-8"))
        result["total_s"] = round(time.monotonic() - started, 1)
        say(f"== {db} done in {result['total_s']} s")
        return result
    finally:
        if db == "postgres" and not args.existing:
            pg_admin(args.pg_server, f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')
        shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------------
# The child: load, serve, measure, import.


def run_benchmark(args: argparse.Namespace) -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from fidelis.customers.models import Customer

    result: dict = {"customers": args.customers, "db": args.db}
    if args.existing:
        result["customers"] = Customer.objects.count()
        say(f"measuring the existing database: {result['customers']:,} customers")
    else:
        say(f"migrating and loading {args.customers:,} demo customers …")
        started = time.monotonic()
        output = _Prefixed("  ")
        call_command("demo", customers=args.customers, seed=args.seed, no_serve=True, stdout=output)
        result["setup_s"] = round(time.monotonic() - started, 1)
        loaded = re.search(r"Loaded .* in ([\d.]+) s", "\n".join(output.lines))
        if loaded:
            result["load_s"] = float(loaded.group(1))
            result["load_customers_per_s"] = round(args.customers / max(result["load_s"], 0.001))
    samples = _samples(args.seed, count=max(args.requests, 20))
    connection.close()
    if args.only == "import":
        result.update(_import(args.import_rows, args.seed, samples, profile=args.profile_import))
        result["targets_met"] = {"import": result["import_rows_per_s"] >= TARGETS["import_rows_per_s"]}
        return result

    with serve(Path(os.environ["FIDELIS_DATA_DIR"]), USERNAME, PASSWORD) as client:
        say(f"gunicorn on 127.0.0.1:{client.port}, signed in as {USERNAME}; {args.requests} requests per kind")
        result.update(_measure(client, samples, args.requests))
    if args.explain:
        _explain(samples)
    if args.import_rows:
        result.update(_import(args.import_rows, args.seed, samples))
    else:
        result["import_rows_per_s"] = None
    result["targets_met"] = {
        "search_p95": all(v is not None and v <= TARGETS["search_p95_ms"] for v in result["search_p95_ms"].values()),
        **{key.removesuffix("_ratio"): result[key] <= TARGETS[key]
           for key in ("page360_ratio", "page360_full_ratio", "my_day_ratio")},
        "import": (result["import_rows_per_s"] or 0) >= TARGETS["import_rows_per_s"],
    }
    return result


class _Prefixed(io.TextIOBase):
    """A stdout for call_command that prints each line with a prefix at once."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.lines: list[str] = []

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                self.lines.append(line)
                say(self.prefix + line)
        return len(text)


def _samples(seed: int, count: int) -> dict[str, list[str]]:
    """Return the queries of each kind, and the 360° page paths, taken from random customers."""
    from fidelis.customers.models import Customer, CustomerKind

    rng = Random(seed + 7)
    last = Customer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    pks = [rng.randint(1, last) for _i in range(count * 3)]
    people = list(Customer.objects.filter(pk__in=pks, kind=CustomerKind.INDIVIDUAL)
                  .values("number", "public_id", "name", "name_initials", "phone_digits"))[:count]
    rng.shuffle(people)
    if not people:
        raise SystemExit("no customers to search for")
    return {
        "phone_last4": [p["phone_digits"][-4:] for p in people],
        "phone_prefix": [f"{p['phone_digits'][:3]} {p['phone_digits'][3:7]}" for p in people],
        "hanzi": [p["name"] for p in people],
        "initials": [p["name_initials"] for p in people],
        "number": [p["number"] for p in people],
        "page360": [f"/customers/{p['public_id']}/" for p in people],
        "phones": [p["phone_digits"] for p in people],
    }


def _measure(client: Client, samples: dict[str, list[str]], n: int) -> dict:
    out: dict = {"search_p95_ms": {}, "search_median_ms": {}, "search_ratio": {}, "http_status": {}}
    trivial, statuses = timed(client, ["/healthz"], n, warmup=50)
    trivial_p95, trivial_median = p95_of(trivial), median_of(trivial)
    out["http_status"]["trivial"] = dict(statuses)
    say(f"  {'trivial /healthz':<22} median {trivial_median:7.2f} ms   p95 {trivial_p95:7.2f} ms")
    for kind in SEARCH_KINDS:
        paths = [f"/api/customers?q={urllib.parse.quote(q)}" for q in samples[kind]]
        times, statuses = timed(client, paths, n)
        p95, median = p95_of(times), median_of(times)
        out["search_p95_ms"][kind] = round(p95, 2)
        out["search_median_ms"][kind] = round(median, 2)
        out["search_ratio"][kind] = round(p95 / trivial_p95, 1)
        out["http_status"][kind] = dict(statuses)
        say(f"  {'search ' + kind:<22} median {median:7.2f} ms   p95 {p95:7.2f} ms   "
            f"{p95 / trivial_p95:5.1f}x trivial   HTTP {dict(statuses)}")
    trivial_p95, trivial_median = trivial_again(client, n, trivial_p95, trivial_median, 22)
    times, statuses = timed(client, samples["page360"], n)
    p95, median = p95_of(times), median_of(times)
    out.update({"trivial_p95_ms": round(trivial_p95, 2), "trivial_median_ms": round(trivial_median, 2),
                "page360_p95_ms": round(p95, 2), "page360_median_ms": round(median, 2),
                "page360_ratio": round(p95 / trivial_p95, 1)})
    out["http_status"]["page360"] = dict(statuses)
    say(f"  {'360° page':<22} median {median:7.2f} ms   p95 {p95:7.2f} ms   {p95 / trivial_p95:5.1f}x trivial   "
        f"HTTP {dict(statuses)}")
    out.update(_panels(client, samples["page360"], n, trivial_p95))
    times, statuses = timed(client, ["/"], n)
    p95, median = p95_of(times), median_of(times)
    out.update({"my_day_p95_ms": round(p95, 2), "my_day_median_ms": round(median, 2),
                "my_day_ratio": round(p95 / trivial_p95, 1)})
    out["http_status"]["my_day"] = dict(statuses)
    say(f"  {'my day (home page)':<22} median {median:7.2f} ms   p95 {p95:7.2f} ms   {p95 / trivial_p95:5.1f}x trivial   "
        f"HTTP {dict(statuses)}")
    return out


def _panels(client: Client, pages: list[str], n: int, trivial_p95: float) -> dict:
    """Measure the panels the 360° page loads after itself (hx-trigger="load"), each alone, and the whole page as
    a browser fetches it: the page, then its panels four at a time, each on its own keep-alive connection."""
    panels: dict[str, list[str]] = {}
    for page in pages:
        _status, body = client.request("GET", page)
        public_id = page.rstrip("/").rsplit("/", 1)[-1]
        for url in PANEL_URL.findall(body.decode()):
            panels.setdefault(url.replace(public_id, "<id>"), []).append(url)
    out: dict = {"page360_panels_p95_ms": {}, "http_status_panels": {}}
    for name, urls in sorted(panels.items()):
        times, statuses = timed(client, urls, n, headers=HTMX)
        out["page360_panels_p95_ms"][name] = round(p95_of(times), 2)
        out["http_status_panels"][name] = dict(statuses)
        say(f"  {name:<44} median {median_of(times):7.2f} ms   p95 {p95_of(times):7.2f} ms   "
            f"HTTP {dict(statuses)}")
    browser = _Browser(client, BROWSER_CONNECTIONS)
    try:
        for page in pages[:5]:
            browser.page(page)  # warm-up: each connection open, each worker past its first request
        whole = [browser.page(pages[i % len(pages)]) for i in range(n)]
    finally:
        browser.close()
    p95, median = p95_of(whole), median_of(whole)
    out.update({"page360_full_p95_ms": round(p95, 2), "page360_full_median_ms": round(median, 2),
                "page360_full_ratio": round(p95 / trivial_p95, 1), "http_status_full": dict(browser.statuses)})
    say(f"  {'360° page + panels':<22} median {median:7.2f} ms   p95 {p95:7.2f} ms   {p95 / trivial_p95:5.1f}x trivial "
        f"({BROWSER_CONNECTIONS} at a time)   HTTP {dict(browser.statuses)}")
    return out


class _Browser:
    """Fetch a page as a browser with htmx does: the page on the signed-in connection, then the URLs of its
    hx-trigger="load" elements (and of theirs, as they arrive) side by side, `connections` at a time."""

    def __init__(self, client: Client, connections: int) -> None:
        self.client = client
        self.idle: SimpleQueue = SimpleQueue()
        for _i in range(connections):
            extra = Client(client.host, client.port)
            extra.cookies = dict(client.cookies)  # the same session, as a browser's connections share it
            self.idle.put(extra)
        self.pool = ThreadPoolExecutor(max_workers=connections)
        self.statuses: Counter = Counter()
        self.lock = threading.Lock()

    def _get(self, url: str) -> list[str]:
        connection = self.idle.get()
        try:
            status, body = connection.request("GET", url, headers=HTMX)
        finally:
            self.idle.put(connection)
        with self.lock:
            self.statuses[str(status)] += 1
        return PANEL_URL.findall(body.decode())

    def page(self, path: str) -> float:
        """Return the milliseconds from asking for the page until its last panel has arrived."""
        started = time.perf_counter()
        status, body = self.client.request("GET", path)
        with self.lock:
            self.statuses[str(status)] += 1
        pending = {self.pool.submit(self._get, url) for url in PANEL_URL.findall(body.decode())}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                pending |= {self.pool.submit(self._get, url) for url in future.result()}
        return (time.perf_counter() - started) * 1000

    def close(self) -> None:
        self.pool.shutdown()
        while not self.idle.empty():
            self.idle.get().conn.close()


def _explain(samples: dict[str, list[str]]) -> None:
    """Print each SQL statement of one search per kind with its time and query plan."""
    from django.db import connection

    from fidelis.accounts.models import User
    from fidelis.customers.selectors import customer_search

    user = User.objects.get(username=USERNAME)
    for kind in SEARCH_KINDS:
        query = samples[kind][0]
        captured: list[tuple[str, tuple, float]] = []

        def capture(execute, sql, params, many, context, captured=captured):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                captured.append((sql, params, (time.perf_counter() - started) * 1000))

        with connection.execute_wrapper(capture):
            found = customer_search(user, query)
        say(f"-- {kind} {query!r}: {len(found)} found, {len(captured)} statements")
        prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
        for sql, params, ms in captured:
            if "customers_customer" not in sql:
                continue
            say(f"   {ms:7.2f} ms  {sql[sql.find('WHERE'):][:160]}")
            with connection.cursor() as cursor:
                cursor.execute(prefix + sql, params)
                for row in cursor.fetchall():
                    say("        " + " ".join(str(v) for v in row))


def _import(rows: int, seed: int, samples: dict[str, list[str]], profile: bool = False) -> dict:
    """Import a CSV through the import services (skip bad rows, flag duplicates); return rows per second."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from fidelis.accounts.models import User
    from fidelis.customers.demo import generate_customers
    from fidelis.customers.imports import import_job_create, import_job_run, import_job_validate

    rng = Random(seed + 11)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["姓名", "手机", "邮箱", "省份", "城市", "公司", "职业", "标签"])
    phones_in_file: list[str] = []
    existing = samples["phones"]
    for i, demo in enumerate(generate_customers(rng, rows, owner_ids=[])):
        c = demo.customer
        phone = c["phone"]
        roll = rng.random()
        if roll < 0.05:
            phone = existing[i % len(existing)]  # the same person as an existing customer
        elif roll < 0.06 and phones_in_file:
            phone = rng.choice(phones_in_file)  # twice in the file
        elif roll < 0.065:
            phone = "12345"  # a bad row
        phones_in_file.append(phone)
        writer.writerow([c["name"], phone, c["email"], c["province"], c["city"], c["company_name"],
                         c["occupation"], ";".join(demo.tags[:2])])
    data = buffer.getvalue().encode("utf-8")
    actor = User.objects.get(username=USERNAME)
    say(f"importing {rows:,} rows ({len(data) / 1e6:.1f} MB CSV) …")
    started = time.monotonic()
    job = import_job_create(actor=actor, uploaded_file=SimpleUploadedFile("bench.csv", data, "text/csv"))
    uploaded = time.monotonic()
    with profiled(profile):
        job = import_job_validate(actor=actor, job=job, mapping=job.mapping, mode="skip")
        validated = time.monotonic()
        job = import_job_run(actor=actor, job=job)
        finished = time.monotonic()
    seconds = finished - started
    say(f"  upload {uploaded - started:.1f} s, check {validated - uploaded:.1f} s, import {finished - validated:.1f} s: "
        f"{job.created_count:,} created, {job.error_rows:,} bad rows, {job.duplicate_count:,} possible duplicates, "
        f"{rows / seconds:,.0f} rows/s")
    return {"import_rows": rows, "import_s": round(seconds, 2), "import_rows_per_s": round(rows / seconds),
            "import_created": job.created_count, "import_bad_rows": job.error_rows,
            "import_duplicates": job.duplicate_count}


if __name__ == "__main__":
    sys.exit(main())
