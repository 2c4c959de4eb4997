#!/usr/bin/env python
"""Sales reports benchmark: the sales reports and the "my day" page against a trivial view; order import (PostgreSQL).

    python bench/sales_reports.py [--quick] [--orders N] [--customers N] [--requests N] [--import-lines N]
                                  [--only import] [--profile-import]

It makes a fresh database `fidelis_bench_sales` on the local PostgreSQL (dropped afterwards), migrates it and
writes, with COPY: 20 stores, 20 product categories, 200 products, N customers, the orders (default 1,000,000;
`--quick` 100,000) with 5 lines each over the last two years, 100,000 tasks of which the signed-in manager owns 40
open ones (overdue, today, upcoming), and 100,000 opportunities at every stage of the default pipeline; then it
rebuilds the daily sales totals the reports read (`fidelis.sales.rollups`). Then it starts gunicorn and measures
over one keep-alive connection the median and p95 time of: the trivial view /healthz; the sales report
(/sales/reports/) by store, channel, category and product per month over the last twelve months; the pipeline
report (value per stage, forecast, win rate and cycle) by rep and by source; and the home page with "my day".
Each figure is also given as a ratio to the trivial view. Last it imports a CSV of historical orders (one row per line, through the import
services: upload, check, import) and gives order lines per second.
Targets: every report < 2 s at 1,000,000 orders; "my day" <= 8x the trivial view (p95); order import >= 10,000 lines/s.
`--only import` writes just what the import needs (users, stores, products, customers: no orders, tasks or
opportunities), starts no server and measures the import alone; `--profile-import` runs the import's check and
import steps under cProfile (slower than measured) and prints where the time goes.
Progress goes to the screen; the last line is one JSON object with the figures.
"""

import argparse
import csv
import io
import json
import os
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from random import Random

from benchlib import (
    copy_rows,
    median_of,
    p95_of,
    profiled,
    run_in_fresh_database,
    say,
    serve,
    timed,
    trivial_again,
)

PG_SERVER = "postgres://postgres@127.0.0.1:5432"
PG_DATABASE = "fidelis_bench_sales"
USERNAME, PASSWORD = "manager", "fidelis-bench"
TARGETS = {"report_s": 2.0, "my_day_ratio": 8, "import_lines_per_s": 10_000}
DIMENSIONS = ("store", "channel", "category", "product")
CHANNELS = ["store"] * 6 + ["online"] * 2 + ["wechat", "phone"]
PAYMENTS = ["wechat_pay", "alipay", "card", "cash"]
LINES_PER_ORDER = 5


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 orders, 20,000 customers, 20,000 import lines")
    parser.add_argument("--orders", type=int, help="orders (default 1,000,000; --quick 100,000); 5 lines each")
    parser.add_argument("--customers", type=int, help="customers (default 100,000; --quick 20,000)")
    parser.add_argument("--opportunities", type=int, default=100_000, help="opportunities (default 100,000)")
    parser.add_argument("--tasks", type=int, default=100_000, help="tasks of all users (default 100,000)")
    parser.add_argument("--my-tasks", type=int, default=40,
                        help="open tasks of the signed-in manager due from 3 days ago to 10 days ahead (default 40)")
    parser.add_argument("--requests", type=int, help="timed requests per page (default 20; --quick 8)")
    parser.add_argument("--import-lines", type=int, help="lines of the import CSV (default 100,000; --quick 20,000)")
    parser.add_argument("--pg-server", default=os.environ.get("FIDELIS_BENCH_PG", PG_SERVER),
                        help=f"PostgreSQL server URL without database (default {PG_SERVER})")
    parser.add_argument("--db-name", default=PG_DATABASE, help=f"the database to create and drop ({PG_DATABASE})")
    parser.add_argument("--only", choices=["import"],
                        help="measure only the import, over a database of just the catalogue and the customers")
    parser.add_argument("--profile-import", action="store_true",
                        help="run the import's check and import steps under cProfile and print where the time goes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.orders = args.orders if args.orders is not None else 100_000 if args.quick else 1_000_000
    args.customers = args.customers if args.customers is not None else 20_000 if args.quick else 100_000
    args.requests = args.requests if args.requests is not None else 8 if args.quick else 20
    args.import_lines = args.import_lines if args.import_lines is not None else 20_000 if args.quick else 100_000
    if args.only == "import":
        args.orders = args.opportunities = args.tasks = args.my_tasks = 0
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        Path(args.result_file).write_text(json.dumps(run_benchmark(args)), encoding="utf-8")
        return 0
    if args.only:
        say(f"== postgres, only the {args.only}:")
    say(f"== postgres: {args.orders:,} orders × {LINES_PER_ORDER} lines, {args.customers:,} customers, "
        f"{args.requests} requests per page, {args.import_lines:,} import lines")
    child = ["--orders", str(args.orders), "--customers", str(args.customers), "--requests", str(args.requests),
             "--import-lines", str(args.import_lines), "--opportunities", str(args.opportunities), "--tasks",
             str(args.tasks), "--my-tasks", str(args.my_tasks), "--pg-server", args.pg_server, "--db-name", args.db_name,
             "--seed", str(args.seed), *(["--only", args.only] if args.only else []),
             *(["--profile-import"] if args.profile_import else [])]
    return run_in_fresh_database(Path(__file__).resolve(), child, pg_server=args.pg_server, db_name=args.db_name,
                                 prefix="fidelis-bench-sales-", error_result={"orders": args.orders})


# ---------------------------------------------------------------------------------------------------------------
# The child: set up, serve, measure, import.

def run_benchmark(args: argparse.Namespace) -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    result: dict = {"orders": args.orders, "lines": args.orders * LINES_PER_ORDER, "customers": args.customers,
                    "db": "postgres"}
    started = time.monotonic()
    call_command("migrate", verbosity=0)
    setup = _setup(args)
    result["setup_s"] = round(time.monotonic() - started, 1)
    say(f"set-up in {result['setup_s']} s")
    targets_met = {}
    if args.only is None:
        connection.close()
        with serve(Path(os.environ["FIDELIS_DATA_DIR"]), USERNAME, PASSWORD) as client:
            say(f"gunicorn on 127.0.0.1:{client.port}, signed in as {USERNAME}")
            result.update(_measure(client, args.requests))
        targets_met["reports"] = all(v < TARGETS["report_s"] for v in result["report_p95_s"].values())
        targets_met["my_day"] = result["my_day_ratio"] <= TARGETS["my_day_ratio"]
    else:
        result["only"] = args.only
    result.update(_import(args, setup))
    targets_met["import"] = result["import_lines_per_s"] >= TARGETS["import_lines_per_s"]
    result["targets_met"] = targets_met
    return result


def _setup(args: argparse.Namespace) -> dict:
    """Write the catalogue, customers, orders, lines and tasks in bulk (set-up is not measured)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from fidelis.accounts.models import Role, User
    from fidelis.customers.models import Customer
    from fidelis.pipeline.models import Opportunity, OpportunitySource, StageKind
    from fidelis.pipeline.services import pipeline_default
    from fidelis.sales.models import Order, OrderLine, Product, ProductCategory, Store
    from fidelis.work.models import Task

    rng = Random(args.seed)
    now = timezone.now()
    manager = User.objects.create_user(username=USERNAME, password=PASSWORD, role=Role.MANAGER,
                                       display_name="基准经理")
    reps = [User.objects.create_user(username=f"rep{i}", password=PASSWORD, role=Role.SALES) for i in range(20)]
    stores = Store.objects.bulk_create([Store(code=f"S{i:02d}", name=f"门店{i:02d}") for i in range(1, 21)])
    categories = ProductCategory.objects.bulk_create([ProductCategory(name=f"品类{i:02d}") for i in range(20)])
    products = Product.objects.bulk_create([
        Product(sku=f"SKU{i:05d}", name=f"商品{i:03d}", category=categories[i % 20],
                list_price=Decimal(rng.randint(10, 2000))) for i in range(200)])
    prices = {p.pk: (p.category_id, p.list_price) for p in products}
    product_ids = list(prices)
    with transaction.atomic(), connection.cursor() as cursor:
        first = (Customer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
        customer_ids = list(range(first, first + args.customers))
        cursor.execute("SELECT setval(pg_get_serial_sequence('customers_customer', 'id'), %s)",
                       [first + args.customers])
        owners = [manager.pk, *[r.pk for r in reps]]
        copy_rows(Customer, ["id", "public_id", "created_at", "updated_at", "number", "name", "phone", "owner",
                             "lifecycle_stage", "source", "phone_digits", "phone_reversed"],
                  ((pk, f"{pk:016x}", now, now, f"B{pk:09d}", f"顾客{pk}", f"+86139{pk:08d}",
                    owners[pk % len(owners)] if pk % 4 else None, "buyer", "bench", f"139{pk:08d}",
                    f"139{pk:08d}"[::-1]) for pk in customer_ids))
        cursor.execute("SELECT setval(pg_get_serial_sequence('sales_order', 'id'), %s)", [args.orders + 1])
        orders = []
        lines = []
        for pk in range(1, args.orders + 1):
            paid_at = now - timedelta(seconds=rng.randint(60, 730 * 86400))
            chosen = rng.sample(product_ids, LINES_PER_ORDER)
            amounts = []
            for product_id in chosen:
                category_id, price = prices[product_id]
                quantity = rng.randint(1, 3)
                amounts.append(price * quantity)
                lines.append((pk, product_id, category_id, quantity, price, Decimal("0"), price * quantity, 0))
            subtotal = sum(amounts)
            orders.append((pk, f"{pk:016x}", now, now, f"BO{pk:010d}", rng.choice(customer_ids),
                           rng.choice(CHANNELS), rng.choice(stores).pk, rng.choice(PAYMENTS), subtotal,
                           Decimal("0"), subtotal, Decimal("0"), "paid", paid_at))
        copy_rows(Order, ["id", "public_id", "created_at", "updated_at", "order_no", "customer", "channel", "store",
                          "payment_method", "subtotal", "discount", "paid_amount", "refunded_amount", "status",
                          "paid_at"], iter(orders))
        del orders
        copy_rows(OrderLine, ["order", "product", "category", "quantity", "unit_price", "discount", "amount",
                              "refunded_quantity"], iter(lines))
        del lines
        # The tasks of all users; the manager owns `--my-tasks` open ones around today.
        tasks = []
        for i in range(args.tasks):
            mine = i < args.my_tasks
            due = now + timedelta(hours=rng.randint(-72, 240) if mine else rng.randint(-2000, 2000))
            done = not mine and rng.random() >= 0.3
            tasks.append((f"t{i:015x}", now, now, f"回访顾客 {i}", due, manager.pk if mine else rng.choice(reps).pk,
                          rng.choice(customer_ids), "done" if done else "open", due if done else None))
        copy_rows(Task, ["public_id", "created_at", "updated_at", "title", "due_at", "owner", "customer", "status",
                         "done_at"], iter(tasks))
        # 100,000 opportunities of the reps and the manager over the default pipeline: open, won and lost.
        stages = list(pipeline_default().stages.order_by("order"))
        sources = list(OpportunitySource.values)
        rows = []
        for i in range(args.opportunities):
            stage = rng.choice(stages)
            created = now - timedelta(days=rng.randint(1, 700))
            closed = created + timedelta(days=rng.randint(1, 120)) if stage.kind != StageKind.OPEN else None
            rows.append((f"o{i:015x}", created, created, rng.choice(customer_ids), f"商机 {i}", rng.choice(sources),
                         Decimal(rng.randint(1, 500) * 100), (created + timedelta(days=rng.randint(10, 200))).date(),
                         stage.pk, stage.kind, stage.probability, rng.choice(owners), created,
                         closed if stage.kind == StageKind.WON else None,
                         closed if stage.kind == StageKind.LOST else None, closed,
                         (closed - created).days if closed else None,
                         "price" if stage.kind == StageKind.LOST else ""))
        copy_rows(Opportunity, ["public_id", "created_at", "updated_at", "customer", "title", "source",
                                "expected_amount", "expected_close_date", "stage", "status", "probability", "owner",
                                "stage_changed_at", "won_at", "lost_at", "closed_at", "cycle_days", "lost_reason"],
                  iter(rows))
        del rows
    from fidelis.sales.rollups import rollups_rebuild

    started = time.monotonic()
    store_days, product_days = rollups_rebuild()  # the order services keep them; a bulk load rebuilds them once
    say(f"  daily totals rebuilt in {time.monotonic() - started:.1f} s: {store_days:,} store days, {product_days:,} product days")
    started = time.monotonic()
    with connection.cursor() as cursor:
        # What autovacuum does within minutes of a bulk load (as `fidelis demo` does at its end), so that the pages
        # are not measured while it runs beside them on the same two cores.
        cursor.execute("VACUUM (ANALYZE)")
        # And what the checkpointer and the kernel would write back over the next minutes (the load's dirty pages):
        # otherwise a pass of that writing can slow down a whole page's measurement.
        cursor.execute("CHECKPOINT")
    os.sync()
    say(f"  VACUUM (ANALYZE), CHECKPOINT and sync in {time.monotonic() - started:.1f} s")
    say(f"  {args.orders:,} orders, {args.orders * LINES_PER_ORDER:,} lines, {args.customers:,} customers, "
        f"{args.tasks:,} tasks, {args.opportunities:,} opportunities")
    return {"customer_ids": customer_ids, "skus": [p.sku for p in products], "stores": [s.code for s in stores],
            "manager_id": manager.pk}


def _measure(client, n: int) -> dict:
    out: dict = {"report_p95_s": {}, "report_median_s": {}, "report_ratio": {}, "http_status": {}}
    trivial, statuses = timed(client, ["/healthz"], max(n, 200), warmup=50)
    trivial_p95 = p95_of(trivial)
    out["trivial_p95_ms"], out["http_status"]["trivial"] = round(trivial_p95, 2), dict(statuses)
    say(f"  {'trivial /healthz':<26} median {median_of(trivial):8.2f} ms   p95 {trivial_p95:8.2f} ms")
    end = date.today()
    start = date(end.year - 1, end.month, 1)
    for dimension in DIMENSIONS:
        path = f"/sales/reports/?dimension={dimension}&period=month&start={start}&end={end}"
        times, statuses = timed(client, [path], n, warmup=1)
        p95, median = p95_of(times), median_of(times)
        out["report_p95_s"][dimension], out["report_median_s"][dimension] = round(p95 / 1000, 3), round(
            median / 1000, 3)
        out["report_ratio"][dimension] = round(p95 / trivial_p95, 1)
        out["http_status"][f"report_{dimension}"] = dict(statuses)
        say(f"  {'report by ' + dimension:<26} median {median:8.2f} ms   p95 {p95:8.2f} ms   "
            f"HTTP {dict(statuses)}")
    for kind in ("owner", "source"):
        path = f"/sales/reports/pipeline/?dimension={kind}&start={date(end.year - 1, end.month, 1)}&end={end}"
        times, statuses = timed(client, [path], n, warmup=1)
        p95, median = p95_of(times), median_of(times)
        key = f"pipeline_by_{kind}"
        out["report_p95_s"][key], out["report_median_s"][key] = round(p95 / 1000, 3), round(median / 1000, 3)
        out["report_ratio"][key] = round(p95 / trivial_p95, 1)
        out["http_status"][f"report_{key}"] = dict(statuses)
        say(f"  {'pipeline report by ' + kind:<26} median {median:8.2f} ms   p95 {p95:8.2f} ms   "
            f"HTTP {dict(statuses)}")
    trivial_p95, _median = trivial_again(client, max(n, 200), trivial_p95, median_of(trivial), 26)
    times, statuses = timed(client, ["/"], max(n, 200))
    p95 = p95_of(times)
    out.update({"my_day_p95_ms": round(p95, 2), "my_day_median_ms": round(median_of(times), 2),
                "my_day_ratio": round(p95 / trivial_p95, 1)})
    out["http_status"]["my_day"] = dict(statuses)
    say(f"  {'my day (home page)':<26} median {median_of(times):8.2f} ms   p95 {p95:8.2f} ms   "
        f"{out['my_day_ratio']}x trivial   HTTP {dict(statuses)}")
    return out


def _import(args: argparse.Namespace, setup: dict) -> dict:
    """Import a CSV of historical orders (one row per line, 4 lines per order) through the import services."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from fidelis.accounts.models import User
    from fidelis.customers.models import Customer, ImportMode
    from fidelis.sales.imports import (
        guess_mapping,
        order_import_create,
        order_import_run,
        order_import_validate,
    )

    rng = Random(args.seed + 7)
    actor = User.objects.get(pk=setup["manager_id"])
    numbers = dict(Customer.objects.filter(pk__in=setup["customer_ids"][:5000]).values_list("pk", "number"))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["订单号", "客户编号", "支付时间", "门店", "渠道", "支付方式", "商品编码", "数量", "单价"])
    today = timezone.localdate()
    for i in range(args.import_lines):
        order = i // 4
        if i % 4 == 0:
            customer = numbers[rng.choice(list(numbers))]
            day = today - timedelta(days=rng.randint(1, 700))
            store = rng.choice(setup["stores"])
        writer.writerow([f"IMP{order:09d}", customer, f"{day:%Y/%m/%d} 12:{order % 60:02d}:00", store, "门店", "微信",
                         rng.choice(setup["skus"]), rng.randint(1, 3), f"{rng.randint(10, 500)}.00"])
    data = buffer.getvalue().encode("utf-8")
    say(f"import: {args.import_lines:,} order lines ({len(data) / 1e6:.1f} MB CSV) …")
    started = time.monotonic()
    job = order_import_create(actor=actor, uploaded_file=SimpleUploadedFile("orders.csv", data, "text/csv"))
    uploaded = time.monotonic()
    with profiled(args.profile_import):
        job = order_import_validate(actor=actor, job=job, mapping=guess_mapping(job.headers),
                                    mode=ImportMode.ALL_OR_NOTHING)
        checked = time.monotonic()
        job = order_import_run(actor=actor, job=job)
        done = time.monotonic()
    seconds = done - started
    per_s = round(args.import_lines / seconds)
    say(f"  upload {uploaded - started:.1f} s, check {checked - uploaded:.1f} s, import {done - checked:.1f} s: "
        f"{job.order_count:,} orders, {job.line_count:,} lines, {job.error_rows} bad rows: {per_s:,} lines/s")
    return {"import_lines": args.import_lines, "import_orders": job.order_count, "import_lines_written":
            job.line_count, "import_bad_rows": job.error_rows, "import_s": round(seconds, 2),
            "import_lines_per_s": per_s}


if __name__ == "__main__":
    sys.exit(main())
