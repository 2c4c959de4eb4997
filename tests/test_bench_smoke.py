"""The benchmarks run end to end on tiny databases (the figures themselves are not checked here)."""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "customer_search.py"


def test_customer_search_bench_runs_on_a_tiny_sqlite_database_and_ends_with_json(tmp_path):
    # given: a small run on its own SQLite database, whatever database the suite uses
    argv = [sys.executable, str(BENCH), "--db", "sqlite", "--customers", "400", "--import-rows", "300",
            "--requests", "5"]
    # when
    done = subprocess.run(argv, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    # then
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["db"] == "sqlite" and result["customers"] == 400
    assert set(result["search_p95_ms"]) == {"phone_last4", "phone_prefix", "hanzi", "initials", "number"}
    assert all(status == {"200": 5} for status in result["http_status"].values()), result["http_status"]
    assert result["trivial_p95_ms"] > 0 and result["page360_ratio"] > 0
    assert result["import_rows"] == 300 and result["import_created"] > 250 and result["import_rows_per_s"] > 0


LEDGER = Path(__file__).resolve().parent.parent / "bench" / "ledger.py"


@pytest.mark.postgres_only
def test_ledger_bench_runs_tiny_on_postgres_and_ends_with_json(tmp_path):
    # given: the PostgreSQL server the suite runs on, pgbench, and databases of this run's own
    from django.conf import settings

    db = settings.DATABASES["default"]
    if "postgresql" not in db["ENGINE"]:
        pytest.skip("the ledger benchmark needs PostgreSQL (run the suite with DATABASE_URL=postgres://…)")
    if not Path("/usr/bin/pgbench").exists() and not os.environ.get("PGBENCH"):
        pytest.skip("pgbench is not installed")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    server = f"postgres://{quote(db['USER'] or 'postgres')}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    from tests.events.test_worker import REDIS_URL, _redis_up

    if not _redis_up():
        pytest.skip("the live phase's Celery workers need Redis")
    argv = [sys.executable, str(LEDGER), "--members", "200", "--orders", "1500", "--duration", "1", "--clients",
            "1,2", "--pg-server", server, "--db-name", f"fidelis_bench_smoke_{os.getpid()}", "--broker", REDIS_URL, "--workers", "1"]
    # when
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    # then
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["orders"] == 1500 and result["rules_active"] == 20
    assert set(result["events_per_s"]) == set(result["pgbench_tps"]) == set(result["ratio"]) == {"1", "2"}
    assert all(v > 0 for v in result["events_per_s"].values()) and all(v > 0 for v in result["pgbench_tps"].values())
    assert result["invariants_ok"] and all(result["live_applied_ok"].values())
    assert result["workers"] == 1 and all(result["live"][k]["recorded"] > 0 for k in ("1", "2"))
    assert result["backfill"]["applied"] == 1500 and result["backfill_orders_per_s"] > 0
    assert result["preview_1m_s"] > 0 and result["preview_events"] == 1500
    assert set(result["targets_met"]) == {"ratio", "backfill", "preview", "invariants"}


SALES = Path(__file__).resolve().parent.parent / "bench" / "sales_reports.py"


@pytest.mark.postgres_only
def test_sales_reports_bench_runs_tiny_on_postgres_and_ends_with_json(tmp_path):
    # given: the PostgreSQL server the suite runs on and a database of this run's own
    from django.conf import settings

    db = settings.DATABASES["default"]
    if "postgresql" not in db["ENGINE"]:
        pytest.skip("the sales reports benchmark needs PostgreSQL (run the suite with DATABASE_URL=postgres://…)")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    server = f"postgres://{quote(db['USER'] or 'postgres')}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    argv = [sys.executable, str(SALES), "--orders", "600", "--customers", "200", "--opportunities", "300",
            "--tasks", "1000", "--requests", "2", "--import-lines", "200", "--pg-server", server,
            "--db-name", f"fidelis_bench_sales_smoke_{os.getpid()}"]
    # when
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    # then
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["orders"] == 600 and result["lines"] == 3000
    assert set(result["report_p95_s"]) == {"store", "channel", "category", "product", "pipeline_by_owner",
                                           "pipeline_by_source"}
    assert all(status == {"200": 2} for key, status in result["http_status"].items()
               if key.startswith("report_")), result["http_status"]
    assert result["my_day_ratio"] > 0 and result["http_status"]["my_day"] == {"200": 200}
    assert result["import_lines_written"] == 200 and result["import_bad_rows"] == 0
    assert set(result["targets_met"]) == {"reports", "my_day", "import"}
