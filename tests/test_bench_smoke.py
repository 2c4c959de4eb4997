"""The search benchmark runs end to end on a tiny database (the figures themselves are not checked here)."""

import json
import subprocess
import sys
from pathlib import Path

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
