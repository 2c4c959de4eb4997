#!/usr/bin/env python
"""Ledger benchmark: live order.paid events per second against pgbench, bulk back-fill, rule preview (PostgreSQL).

    python bench/ledger.py [--quick] [--members N] [--orders N] [--duration S] [--clients 1,4] [--profile N]
                           [--only backfill|preview|live] [--profile-backfill]

It makes a fresh database `fidelis_bench_ledger` on the local PostgreSQL (dropped afterwards), migrates it, creates
the starter program with 17 more earn rules so that 20 are live for order.paid (conditions on store, amount,
date window, tier, channel, category, tags, n-th purchase, referrer: most of them do not match), and N members.
Then it measures:
(c) the bulk back-fill (`fidelis.loyalty.backfill.orders_backfill`, the engine of live events) of historical
    order.paid events, imported straight into the event stream first, in orders per second; the ledger
    invariants are checked afterwards;
(d) the preview (`fidelis.loyalty.preview.preview_rule`) of a draft "weekend double points for silver and above"
    rule over those past events, in seconds (and, for comparison, of a rule without conditions, which has to read
    every event: `preview_full_scan_s`);
(a) live events: each client process records order.paid events of random members with `record_event` for a
    fixed time (as the POS API does), while `--workers` Celery worker processes (broker: a Redis database of its
    own) apply them to the ledger in batches (`events.dispatch_pending`: points, purchase, tier, timeline); the
    figure is the events applied per second from the start until the last one's effects are committed, so a
    backlog the workers leave counts against it; 1 and 4 clients, each with its own connection;
(b) pgbench `tpcb-like` with as many clients, for as long, against the same server, right after each live
    phase, on the scratch database `fidelis_bench_ledger_pgbench`; ratio = events per second / pgbench tps.
Progress goes to the screen; the last line is one JSON object with the figures.
Targets: ratio >= 0.5; back-fill >= 10,000 orders/s for 1,000,000 orders; preview of 1,000,000 events < 10 s.
`--profile N` records N more events in this process under cProfile (a client), then dispatches them as a worker
does, and prints where the time goes in each.
`--only PHASE` (backfill, preview or live; repeatable) runs only those phases (the preview needs the historical
events, so it imports them too; the live phase needs them back-filled, so it back-fills them, unmeasured) — to
iterate on one figure. `--profile-backfill` runs the back-fill with one worker
under cProfile (slower than measured) and prints where the time goes.
"""

import argparse
import json
import multiprocessing
import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from random import Random

from benchlib import copy_rows, pg_admin, profiled, run_in_fresh_database, say

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
PG_DATABASE = "fidelis_bench_ledger"  # and "<name>_pgbench" for pgbench's tables
PGBENCH = "/usr/bin/pgbench"
BROKER = "redis://127.0.0.1:6379/13"
TARGETS = {"ratio": 0.5, "backfill_orders_per_s": 10_000, "preview_1m_s": 10}
STORES = [f"S{i:02d}" for i in range(1, 21)]
CHANNELS = ["store"] * 6 + ["online"] * 3 + ["wechat"]
PHASES = ("backfill", "preview", "live")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 orders, 20,000 members, 4 s phases")
    parser.add_argument("--members", type=int, help="members (default 100,000; --quick 20,000)")
    parser.add_argument("--orders", type=int,
                        help="historical orders to back-fill and preview (default 1,000,000; --quick 100,000)")
    parser.add_argument("--duration", type=float, help="seconds of each live and pgbench phase (default 20; "
                                                       "--quick 4)")
    parser.add_argument("--clients", default="1,4", help="client counts of the live phases (default 1,4)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="afterwards, record N events under cProfile and print the top functions")
    parser.add_argument("--only", action="append", choices=PHASES, metavar="PHASE",
                        help="run only this phase: backfill, preview or live (repeatable; default all)")
    parser.add_argument("--profile-backfill", action="store_true",
                        help="run the back-fill under cProfile, one worker, and print the top functions")
    parser.add_argument("--pg-server", default=os.environ.get("FIDELIS_BENCH_PG", PG_SERVER),
                        help=f"PostgreSQL server URL without database (default {PG_SERVER})")
    parser.add_argument("--pgbench", default=os.environ.get("PGBENCH", PGBENCH), help="the pgbench program")
    parser.add_argument("--db-name", default=PG_DATABASE,
                        help=f"the database to create and drop (default {PG_DATABASE}; pgbench uses <name>_pgbench)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="Celery worker processes of the live phases (default: one per core, as Celery's own "
                             "default concurrency)")
    parser.add_argument("--broker", default=os.environ.get("FIDELIS_BENCH_BROKER", BROKER),
                        help=f"the Redis broker of the live phases' workers (default {BROKER}; it is flushed)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.members = args.members if args.members is not None else 20_000 if args.quick else 100_000
    args.orders = args.orders if args.orders is not None else 100_000 if args.quick else 1_000_000
    args.duration = args.duration if args.duration is not None else 4.0 if args.quick else 20.0
    args.pgbench_db = f"{args.db_name}_pgbench"
    args.clients = [int(c) for c in str(args.clients).split(",") if c.strip()]
    args.only = list(dict.fromkeys(args.only or PHASES))
    return args


# ---------------------------------------------------------------------------------------------------------------
# The parent: a fresh database, one child process that measures (Django reads its database once), clean-up.


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        result = run_benchmark(args)
        Path(args.result_file).write_text(json.dumps(result), encoding="utf-8")
        return 0
    child = ["--members", str(args.members), "--orders", str(args.orders), "--duration", str(args.duration),
             "--clients", ",".join(map(str, args.clients)), "--profile", str(args.profile), "--pg-server",
             args.pg_server, "--pgbench", args.pgbench, "--db-name", args.db_name, "--seed", str(args.seed),
             "--workers", str(args.workers), "--broker", args.broker,
             *(f"--only={phase}" for phase in args.only), *(["--profile-backfill"] if args.profile_backfill else [])]
    say(f"== postgres: {args.members:,} members, {args.orders:,} historical orders, {args.duration:g} s phases, "
        f"clients {args.clients}, phases {', '.join(args.only)}")
    return run_in_fresh_database(Path(__file__).resolve(), child, pg_server=args.pg_server, db_name=args.db_name,
                                 prefix="fidelis-bench-ledger-", error_result={"orders": args.orders},
                                 also_drop=(args.pgbench_db,))


# ---------------------------------------------------------------------------------------------------------------
# The child: set up, back-fill, preview, live events against pgbench.


def run_benchmark(args: argparse.Namespace) -> dict:
    import django

    django.setup()
    from django.core.management import call_command

    result: dict = {"orders": args.orders, "members": args.members, "duration_s": args.duration}
    started = time.monotonic()
    say("migrating …")
    call_command("migrate", verbosity=0)
    say(f"  {time.monotonic() - started:.1f} s")
    setup = _setup(args)
    result["rules_active"] = setup["rules_active"]
    if "backfill" in args.only:
        result.update(_backfill(args, setup))
    elif "live" in args.only:
        # The live phase runs against a ledger with history, as in production: on empty tables PostgreSQL plans the
        # foreign-key checks of the worker's connection as scans of the (then tiny) tables and keeps those plans
        # while the tables grow, until autovacuum analyzes them (measured: a batch's commit grew from 5 ms to 1.8 s
        # within 20 s). So it is back-filled first, unmeasured.
        _backfill(args, setup)
    elif "preview" in args.only:
        _import_history(args, setup)
    if "preview" in args.only:
        result.update(_preview(args, setup))
    if "live" in args.only:
        result.update(_live_against_pgbench(args, setup))
    if args.profile:
        _profile(args, setup)
    met: dict = {}
    if "live" in args.only:
        met["ratio"] = all(v is not None and v >= TARGETS["ratio"] for v in result["ratio"].values())
    if "backfill" in args.only:
        met["backfill"] = result["backfill_orders_per_s"] >= TARGETS["backfill_orders_per_s"]
    if "preview" in args.only:
        met["preview"] = result["preview_1m_s"] < TARGETS["preview_1m_s"]
    met["invariants"] = result.get("invariants_ok", True) and all(result.get("live_applied_ok", {}).values())
    result["targets_met"] = met
    return result


# --- set-up -----------------------------------------------------------------------------------------------------

def _setup(args: argparse.Namespace) -> dict:
    """Return the program, the rules, the members; everything written in bulk (set-up is not measured)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from fidelis.accounts.models import Role, User
    from fidelis.customers.models import Customer
    from fidelis.loyalty.models import Member, Program, Rule, RuleStatus, Tier
    from fidelis.loyalty.services import rule_save
    from fidelis.loyalty.templates import starter_program

    rng = Random(args.seed)
    started = time.monotonic()
    actor = User.objects.create(username="bench", role=Role.MANAGER)
    program = starter_program(actor=actor, name="基准会员俱乐部")
    tiers = {t.name: t for t in Tier.objects.filter(program=program)}
    template = program.coupon_templates.order_by("pk").first()
    extra = [
        ("S98 门店开业", [{"kind": "store_in", "values": ["S98"]}], [{"kind": "award_points", "points": 50}]),
        ("S01 旗舰店 +20", [{"kind": "store_in", "values": ["S01"]}], [{"kind": "award_points", "points": 20}]),
        ("超大单", [{"kind": "amount_min", "value": "5000"}], [{"kind": "award_points", "points": 500}]),
        ("千元单", [{"kind": "amount_min", "value": "1000"}, {"kind": "amount_max", "value": "2000"}],
         [{"kind": "award_points", "points": 100}]),
        ("国庆双倍", [{"kind": "date_window", "start": "2024-10-01", "end": "2024-10-07"}],
         [{"kind": "multiply", "factor": "2"}]),
        ("周末 S99", [{"kind": "date_window", "weekdays": [6, 7]}, {"kind": "store_in", "values": ["S99"]}],
         [{"kind": "award_points", "points": 30}]),
        ("钻石专享", [{"kind": "tier_in", "values": ["钻石卡"]}], [{"kind": "award_points", "points": 300}]),
        ("微信下单", [{"kind": "channel_in", "values": ["wechat"]}], [{"kind": "award_points", "points": 10}]),
        ("奢侈品", [{"kind": "category_in", "values": ["奢侈品"]}], [{"kind": "award_points", "points": 200}]),
        ("VIP 标签", [{"kind": "tag_in", "values": ["VIP"]}], [{"kind": "award_points", "points": 100}]),
        ("第十单", [{"kind": "nth_purchase", "n": 10}], [{"kind": "award_points", "points": 1000}]),
        ("推荐大单", [{"kind": "has_referrer"}, {"kind": "amount_min", "value": "3000"}],
         [{"kind": "award_points", "points": 150}]),
        ("小程序", [{"kind": "channel_in", "values": ["miniapp"]}], [{"kind": "award_points", "points": 5}]),
        ("春节", [{"kind": "date_window", "start": "2025-01-28", "end": "2025-02-04"}],
         [{"kind": "award_points", "points": 88}]),
        ("金卡满额", [{"kind": "tier_in", "values": ["金卡"]}, {"kind": "amount_min", "value": "800"}],
         [{"kind": "award_points", "points": 80}]),
        ("S20 满 2000 送券", [{"kind": "store_in", "values": ["S20"]}, {"kind": "amount_min", "value": "2000"}],
         [{"kind": "issue_coupon", "template": template.public_id}]),
        ("第一百单", [{"kind": "nth_purchase", "n": 100}], [{"kind": "award_points", "points": 5000}]),
    ]
    for index, (name, conditions, actions) in enumerate(extra):
        rule_save(actor=actor, program=program, data={
            "name": name, "trigger": "order.paid", "conditions": conditions, "actions": actions,
            "priority": 110 - index, "status": RuleStatus.ACTIVE})
    active = Rule.objects.filter(program=program, status=RuleStatus.ACTIVE, trigger="order.paid").count()

    # Customers and members, written with COPY.
    now = timezone.now()
    joined = now - timedelta(days=1000)
    entry = tiers["普通会员"]
    with transaction.atomic():
        first_customer = (Customer.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
        with connection.cursor() as cursor:
            cursor.execute("SELECT setval(pg_get_serial_sequence('customers_customer', 'id'), %s)",
                           [first_customer + args.members])
            cursor.execute("SELECT setval(pg_get_serial_sequence('loyalty_member', 'id'), %s)", [args.members])
        customer_ids = list(range(first_customer, first_customer + args.members))
        copy_rows(Customer, ["id", "public_id", "created_at", "updated_at", "number", "name", "birthday", "phone",
                         "lifecycle_stage", "source", "phone_digits", "phone_reversed"],
              ((pk, f"{pk:016x}", now, now, f"B{pk:09d}", f"会员{pk}", _birthday(rng), f"+86139{pk:08d}", "member",
                "bench", f"139{pk:08d}", f"139{pk:08d}"[::-1]) for pk in customer_ids))
        members = list(range(1, args.members + 1))
        copy_rows(Member, ["id", "public_id", "created_at", "updated_at", "program", "customer", "number", "card_code",
                       "status", "joined_at", "channel", "referred_by", "tier", "tier_since", "balance",
                       "earned_total", "purchases"],
              ((pk, f"m{pk:015x}", joined, joined, program.pk, customer_ids[pk - 1], f"M{pk:08d}", f"BENCH{pk:010d}",
                "active", joined, "store", rng.randint(1, pk - 1) if pk > 10 and rng.random() < 0.1 else None,
                entry.pk, joined, 0, 0, 0) for pk in members))
        Program.objects.filter(pk=program.pk).update(last_member_number=args.members)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    say(f"set-up: starter program + {len(extra)} rules ({active} live for order.paid), {args.members:,} members "
        f"in {time.monotonic() - started:.1f} s")
    return {"program_id": program.pk, "actor_id": actor.pk, "customer_ids": customer_ids, "rules_active": active,
            "member_ids": members}


def _birthday(rng: Random):
    from datetime import date

    return date(rng.randint(1960, 2004), rng.randint(1, 12), rng.randint(1, 28)) if rng.random() < 0.7 else None


# --- (c) back-fill ----------------------------------------------------------------------------------------------

def _import_history(args: argparse.Namespace, setup: dict) -> None:
    """Write the historical orders into the event stream as the order import does (not dispatched)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from fidelis.events.models import Event

    rng = Random(args.seed + 3)
    now = timezone.now()
    customers = setup["customer_ids"]
    started = time.monotonic()
    with transaction.atomic():
        count = copy_rows(Event, ["public_id", "customer", "type", "occurred_at", "channel", "touchpoint", "summary",
                              "payload", "created_at"],
                      ((f"h{i:015x}", rng.choice(customers), "order.paid",
                        now - timedelta(seconds=rng.randint(3600, 700 * 86400)), rng.choice(CHANNELS), "POS",
                        "", {"amount": f"{rng.lognormvariate(5, 1):.2f}", "order_no": f"H{i:09d}",
                             "store": rng.choice(STORES)}, now)
                       for i in range(args.orders)))
        # The buyers move to "buyer" in the loyalty funnel, as the order import moves them.
        with connection.cursor() as cursor:
            cursor.execute("UPDATE customers_customer SET lifecycle_stage = 'buyer' WHERE id IN (SELECT customer_id "
                           "FROM events_event WHERE type = 'order.paid') AND lifecycle_stage IN "
                           "('interested', 'follower', 'member')")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE events_event")
    say(f"imported {count:,} historical order.paid events in {time.monotonic() - started:.1f} s")


def _invariants(program_id: int) -> tuple[bool, dict]:
    """Check balance == sum(entries) == sum(lots.remaining) for every member, and that nothing is applied twice."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT count(*) FILTER (WHERE m.balance <> COALESCE(e.s, 0) OR m.balance <> COALESCE(l.s, 0)),
                   sum(m.balance), sum(COALESCE(e.s, 0)), sum(COALESCE(l.s, 0))
            FROM loyalty_member m
            LEFT JOIN (SELECT member_id, sum(points) s FROM loyalty_pointsentry GROUP BY member_id) e
                   ON e.member_id = m.id
            LEFT JOIN (SELECT member_id, sum(remaining) s FROM loyalty_pointslot GROUP BY member_id) l
                   ON l.member_id = m.id
            WHERE m.program_id = %s""", [program_id])
        bad, balance, entries, lots = cursor.fetchone()
        cursor.execute("""SELECT count(*) FROM (SELECT member_id FROM loyalty_pointsentry
                          GROUP BY member_id, rule_id, event_id HAVING count(*) > 1) d""")
        twice = cursor.fetchone()[0]
        cursor.execute("""SELECT count(*) FROM loyalty_pointsentry e JOIN (
                            SELECT id, balance_after - sum(points) OVER (PARTITION BY member_id ORDER BY id) d
                            FROM loyalty_pointsentry) r ON r.id = e.id WHERE r.d <> 0""")
        running = cursor.fetchone()[0]
    sums = {"members_off": bad, "balance": int(balance or 0), "entries": int(entries or 0), "lots": int(lots or 0),
            "entries_twice": twice, "balance_after_off": running}
    return bad == 0 and twice == 0 and running == 0 and sums["balance"] == sums["entries"] == sums["lots"], sums


def _backfill(args: argparse.Namespace, setup: dict) -> dict:
    from django.db import connection

    from fidelis.accounts.models import User
    from fidelis.loyalty.backfill import orders_backfill
    from fidelis.loyalty.models import Program

    _import_history(args, setup)
    program = Program.objects.get(pk=setup["program_id"])
    actor = User.objects.get(pk=setup["actor_id"])
    say(f"back-filling {args.orders:,} orders …")
    last = [time.monotonic()]

    def progress(done) -> None:
        if time.monotonic() - last[0] >= 5:
            last[0] = time.monotonic()
            say(f"  {done.applied:,} orders, {done.applied / max(done.seconds, 0.001):,.0f}/s")

    with profiled(args.profile_backfill):
        result = orders_backfill(actor=actor, program=program, progress=progress,
                                 **({"workers": 1} if args.profile_backfill else {}))
    per_s = round(result.applied / max(result.seconds, 0.001))
    say(f"  {result.applied:,} orders in {result.seconds:.1f} s: {per_s:,} orders/s; {result.entries:,} entries, "
        f"{result.points:,} points, {result.tier_upgrades:,} tier upgrades, {result.members:,} members")
    started = time.monotonic()
    ok, sums = _invariants(program.pk)
    say(f"  invariants {'hold' if ok else 'BROKEN'} ({time.monotonic() - started:.1f} s): {sums}")
    # What autovacuum does within a minute or two of a bulk insert (PostgreSQL 13+ vacuums after inserts too):
    # the statistics, the visibility map and the rows' hint bits. Without it the live phase's first reads of the
    # history set hint bits page by page and plan with statistics of empty tables.
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) loyalty_pointsentry, loyalty_pointslot, loyalty_purchase, "
                       "loyalty_appliedevent, loyalty_member, events_event")
    vacuum_s = round(time.monotonic() - started, 1)
    say(f"  VACUUM (ANALYZE) of the ledger tables and the events: {vacuum_s} s (not counted)")
    return {"backfill_orders_per_s": per_s, "backfill_s": result.seconds, "backfill": result.as_dict(),
            "invariants_ok": ok, "invariants": sums, "vacuum_after_backfill_s": vacuum_s}


# --- (d) preview ------------------------------------------------------------------------------------------------

def _preview(args: argparse.Namespace, setup: dict) -> dict:
    from django.utils import timezone

    from fidelis.loyalty.engine import RuleView
    from fidelis.loyalty.models import Program
    from fidelis.loyalty.preview import preview_rule

    program = Program.objects.get(pk=setup["program_id"])
    draft = RuleView(id=0, trigger="order.paid", priority=140,
                     conditions=[{"kind": "date_window", "weekdays": [6, 7]},
                                 {"kind": "tier_in", "values": ["银卡", "金卡", "钻石卡"]}],
                     actions=[{"kind": "multiply", "factor": "2"}])
    now = timezone.now()
    say(f"previewing a draft rule (weekend double points, silver and above) over {args.orders:,} past events …")
    times = []
    for _round in range(2):
        preview = preview_rule(program, draft, now - timedelta(days=800), now)
        times.append(preview.seconds)
        say(f"  {preview.events_scanned:,} events in {preview.seconds:.2f} s: {preview.events_matched:,} matched, "
            f"{preview.members_reached:,} members, {preview.points:,} points, ¥{preview.cost}")
    seconds = min(times)
    full = RuleView(id=0, trigger="order.paid", priority=50, conditions=[],
                    actions=[{"kind": "points_per_cny", "rate": "0.2", "rounding": "floor"}])
    scan = preview_rule(program, full, now - timedelta(days=800), now)
    say(f"  and a rule without conditions (every event read): {scan.events_read:,} events in {scan.seconds:.2f} s, "
        f"{scan.points:,} points")
    estimated = preview.events_scanned < 1_000_000
    per_million = seconds * 1_000_000 / max(preview.events_scanned, 1) if estimated else seconds
    if estimated:
        say(f"  → {per_million:.2f} s for 1,000,000 events (linear estimate from {preview.events_scanned:,})")
    return {"preview_1m_s": round(per_million, 2), "preview_1m_s_estimated": estimated,
            "preview_s": round(seconds, 2), "preview_events": preview.events_scanned,
            "preview_matched": preview.events_matched, "preview_points": preview.points,
            "preview_events_read": preview.events_read, "preview_full_scan_s": scan.seconds}


# --- (a) live events, (b) pgbench ----------------------------------------------------------------------------------

def _client(index: int, phase: str, customer_ids: list[int], seconds: float, seed: int, barrier, queue) -> None:
    """One client process: record order.paid events of random members until the time is up."""
    from django.db import connection

    from fidelis.customers.models import Customer
    from fidelis.events.services import record_event

    rng = Random(seed * 1000 + index)
    customers = [Customer(pk=pk) for pk in customer_ids]

    def one(i: int) -> None:
        record_event(customer=rng.choice(customers), type="order.paid", channel=rng.choice(CHANNELS),
                     touchpoint="POS", payload={"amount": f"{rng.lognormvariate(5, 1):.2f}",
                                                "order_no": f"{phase}-{index}-{i}", "store": rng.choice(STORES)},
                     idempotency_key=f"bench:{phase}:{index}:{i}")

    try:
        for i in range(5):
            one(-i - 1)  # warm up: connection, caches
        barrier.wait(timeout=300)
        started = time.monotonic()
        deadline = started + seconds
        done = 0
        while time.monotonic() < deadline:
            one(done)
            done += 1
        queue.put((index, done, time.monotonic() - started, None))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        queue.put((index, 0, 0.0, repr(exc)))
    finally:
        connection.close()


def _live(args: argparse.Namespace, setup: dict, clients: int) -> tuple[float, bool, dict]:
    """Clients record events for the phase's time while Celery workers apply them; return the events applied per
    second (from the start until the last one's effects are committed), whether all were applied, and details."""
    from django.db import connections

    from fidelis.events.models import Event, PendingDispatch
    from fidelis.loyalty.models import AppliedEvent

    phase = f"c{clients}"
    connections.close_all()  # the children must not share this process's connection
    context = multiprocessing.get_context("fork")
    barrier, queue = context.Barrier(clients + 1), context.Queue()
    processes = [context.Process(target=_client, args=(i, phase, setup["customer_ids"], args.duration, args.seed,
                                                       barrier, queue)) for i in range(clients)]
    for process in processes:
        process.start()
    barrier.wait(timeout=300)
    started = time.monotonic()
    reports = [queue.get(timeout=args.duration + 300) for _process in processes]
    recorded_by = time.monotonic()
    for process in processes:
        process.join(timeout=60)
    errors = [r[3] for r in reports if r[3]]
    if errors:
        raise SystemExit(f"a client failed: {errors[0]}")
    events = sum(r[1] for r in reports)
    recorded = Event.objects.filter(idempotency_key__startswith=f"bench:{phase}:")  # with the clients' warm-up
    total = recorded.count()
    applied = AppliedEvent.objects.filter(program_id=setup["program_id"], event__in=recorded)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and (PendingDispatch.objects.exists() or applied.count() < total):
        time.sleep(0.01)
    finished = time.monotonic()
    ok = applied.count() == total
    details = {"recorded": events, "recording_s": round(recorded_by - started, 2),
               "recorded_per_s": round(events / max(recorded_by - started, 0.001), 1),
               "lag_s": round(finished - recorded_by, 2)}
    return events / (finished - started), ok, details


class _Workers:
    """Celery worker processes on the bench database, fed through a Redis broker database of their own."""

    def __init__(self, args: argparse.Namespace, setup: dict, workdir: Path) -> None:
        self.args, self.setup, self.log = args, setup, workdir / "workers.log"
        self.processes: list[subprocess.Popen] = []

    def __enter__(self) -> "_Workers":
        import redis
        from django.db import connection

        from fidelis.config.celery import app

        redis.Redis.from_url(self.args.broker).flushdb()
        db = connection.settings_dict
        env = {**os.environ, "CELERY_BROKER_URL": self.args.broker, "LOG_LEVEL": "WARNING",
               "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"}
        with self.log.open("ab") as log:
            for index in range(self.args.workers):
                self.processes.append(subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "fidelis.config", "worker", "--pool=solo",
                     "--concurrency=1", "--loglevel=WARNING", "--without-gossip", "--without-mingle",
                     "--without-heartbeat", "-n", f"bench{index}@%h"], env=env, cwd=ROOT, stdout=log, stderr=log))
        self.saved = (app.conf.task_always_eager, app.conf.broker_url)
        app.conf.task_always_eager, app.conf.broker_url = False, self.args.broker
        self._ready()
        return self

    def _ready(self) -> None:
        """Wait until the workers apply an event (they have started, and their caches are warm)."""
        from fidelis.customers.models import Customer
        from fidelis.events.services import record_event
        from fidelis.loyalty.models import AppliedEvent

        customer = Customer.objects.get(pk=self.setup["customer_ids"][0])
        for i in range(self.args.workers * 3):
            event, _new = record_event(customer=customer, type="order.paid", payload={"amount": "1.00"},
                                       idempotency_key=f"bench:warm:{time.monotonic_ns()}:{i}")
        deadline = time.monotonic() + 120
        while not AppliedEvent.objects.filter(event=event).exists():
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                raise SystemExit("the Celery workers did not start:\n" + self.log.read_text(errors="replace")[-3000:])
            time.sleep(0.05)

    def __exit__(self, *exc) -> None:
        from fidelis.config.celery import app

        app.conf.task_always_eager, app.conf.broker_url = self.saved
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _pgbench(args: argparse.Namespace, clients: int) -> float | None:
    url = f"{args.pg_server.rstrip('/')}/{args.pgbench_db}"
    done = subprocess.run([args.pgbench, "-b", "tpcb-like", "-c", str(clients), "-j", str(clients), "-T",
                           str(max(1, round(args.duration))), url], capture_output=True, text=True, check=False)
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    if done.returncode != 0 or not match:
        say(f"  pgbench failed: {done.stderr.strip()[-500:]}")
        return None
    return float(match.group(1))


def _live_against_pgbench(args: argparse.Namespace, setup: dict) -> dict:
    pg_admin(args.pg_server, f'DROP DATABASE IF EXISTS "{args.pgbench_db}" WITH (FORCE)',
              f'CREATE DATABASE "{args.pgbench_db}"')
    init = subprocess.run([args.pgbench, "-i", "-q", f"{args.pg_server.rstrip('/')}/{args.pgbench_db}"],
                          capture_output=True, text=True, check=False)
    if init.returncode != 0:
        raise SystemExit(f"pgbench -i failed: {init.stderr.strip()[-500:]}")
    out: dict = {"events_per_s": {}, "pgbench_tps": {}, "ratio": {}, "live_applied_ok": {}, "live": {},
                 "workers": args.workers}
    with _Workers(args, setup, Path(os.environ.get("FIDELIS_DATA_DIR", "."))):
        for clients in args.clients:
            say(f"live: {clients} client(s) recording order.paid events for {args.duration:g} s, "
                f"{args.workers} Celery worker(s) applying them …")
            per_s, ok, details = _live(args, setup, clients)
            tps = _pgbench(args, clients)
            ratio = round(per_s / tps, 2) if tps else None
            key = str(clients)
            out["events_per_s"][key], out["pgbench_tps"][key] = round(per_s, 1), tps and round(tps, 1)
            out["ratio"][key], out["live_applied_ok"][key], out["live"][key] = ratio, ok, details
            say(f"  {per_s:,.1f} events/s applied (all applied: {ok}; {details['recorded']:,} recorded at "
                f"{details['recorded_per_s']:,.1f}/s, the last applied {details['lag_s']} s after the clients "
                f"stopped); pgbench tpcb-like {tps or 0:,.1f} tps; ratio {ratio}")
    return out


def _profile(args: argparse.Namespace, setup: dict) -> None:
    """Where the time of live events goes: recording N events (a client, with a broker and no worker: the
    messages wait in the broker), then dispatching them in this process as a worker does, a batch at a time."""
    import redis
    from django.db import connection, reset_queries

    from fidelis.config.celery import app
    from fidelis.customers.models import Customer
    from fidelis.events.dispatch import dispatch_pending
    from fidelis.events.services import record_event

    rng = Random(args.seed + 99)
    customers = [Customer(pk=pk) for pk in setup["customer_ids"]]

    def run(count: int, phase: str) -> None:
        for i in range(count):
            record_event(customer=rng.choice(customers), type="order.paid", channel="store", touchpoint="POS",
                         payload={"amount": f"{rng.lognormvariate(5, 1):.2f}", "order_no": f"{phase}-{i}",
                                  "store": rng.choice(STORES)}, idempotency_key=f"bench:{phase}:{i}")

    saved = (app.conf.task_always_eager, app.conf.broker_url)
    app.conf.task_always_eager, app.conf.broker_url = False, args.broker
    try:
        say(f"recording {args.profile:,} events (a client) …")
        with profiled(top=25):
            run(args.profile, "pp")
        connection.force_debug_cursor = True
        reset_queries()
        dispatch_pending(limit=1, batches=1)
        say(f"one event dispatched alone: {len(connection.queries)} SQL statements")
        reset_queries()
        dispatch_pending(limit=100, batches=1)
        say(f"a batch of 100: {len(connection.queries)} SQL statements")
        for query in connection.queries:
            say(f"  {float(query['time']) * 1000:6.2f} ms  {query['sql'][:110]}")
        connection.force_debug_cursor = False
        say("dispatching the rest in batches (a worker) …")
        with profiled(top=35):
            dispatch_pending()
    finally:
        app.conf.task_always_eager, app.conf.broker_url = saved
        redis.Redis.from_url(args.broker).flushdb()


if __name__ == "__main__":
    sys.exit(main())
