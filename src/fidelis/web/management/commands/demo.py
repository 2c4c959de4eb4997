"""`fidelis demo`: load a shopping mall with a member club, print the logins, and serve it.

Each app that brings demo data has a module listed in LOADERS with two functions:
`demo_load(ctx: DemoContext) -> dict[str, int]` (returns what it wrote, for the summary line) and
`demo_reset(ctx: DemoContext) -> None` (deletes its demo data; called in reverse order on --reset).
Loaders run in the order listed, so a later one can use what an earlier one wrote.
"""

import os
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from fidelis.accounts.models import Role, User
from fidelis.accounts.services import user_create
from fidelis.customers.demo import DEMO_NOW, MALL_NAME, MALL_TZ
from fidelis.customers.models import Customer

LOADERS = [
    "fidelis.customers.demo",
    "fidelis.sales.demo",
    "fidelis.pipeline.demo",
    "fidelis.loyalty.demo",
    "fidelis.work.demo",
    "fidelis.feedback.demo",
]
MAX_CUSTOMERS = 1_000_000
PASSWORD = "fidelis-demo"
# username, display name, role: one user per role, three sales reps who own customers.
DEMO_USERS = [
    ("manager", "王经理", Role.MANAGER),
    ("sales1", "李晓峰", Role.SALES),
    ("sales2", "张婷", Role.SALES),
    ("sales3", "陈浩然", Role.SALES),
    ("marketing", "刘思雨", Role.MARKETING),
    ("service", "赵静", Role.SERVICE),
    ("readonly", "周明", Role.READONLY),
]


@dataclass
class DemoContext:
    """What every demo loader gets: the size, the seed, the demo's "now", the users, a progress printer."""

    customers: int
    seed: int
    now: datetime
    users: dict[str, User]
    write: Any
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def actor(self) -> User:
        return self.users["manager"]

    def users_with_role(self, role: str) -> list[User]:
        return [u for u in self.users.values() if u.role == role]


def gunicorn_extra_args() -> list[str]:
    """Return gunicorn options that keep several servers on one machine apart (no shared control socket)."""
    import gunicorn

    return ["--no-control-socket"] if int(gunicorn.__version__.split(".")[0]) >= 27 else []


def _as_of(text: str) -> datetime:
    if text == "today":
        # Now, to the minute: nothing in the demo happens later than the moment it is loaded.
        return datetime.now(MALL_TZ).replace(second=0, microsecond=0)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--as-of takes YYYY-MM-DD or 'today', not {text!r}")
    return datetime(day.year, day.month, day.day, 20, 0, tzinfo=MALL_TZ)


class Command(BaseCommand):
    help = ("Load demo data (the member club of a shopping mall), print the logins, and serve on "
            "http://127.0.0.1:8000 with gunicorn.")

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=5000,
                            help=f"how many customers to create (default 5,000; at most {MAX_CUSTOMERS:,})")
        parser.add_argument("--seed", type=int, default=2026, help="the same seed gives the same data (default 2026)")
        parser.add_argument("--as-of", default=DEMO_NOW.date().isoformat(),
                            help="the demo's today, YYYY-MM-DD or 'today' (default: a fixed date, so that the "
                                 "same seed gives the same data); the history covers the two years before it")
        parser.add_argument("--reset", action="store_true",
                            help="delete ALL customers and their data first (asks first on a terminal)")
        parser.add_argument("--no-input", action="store_false", dest="interactive",
                            help="do not ask before --reset deletes")
        parser.add_argument("--no-serve", action="store_true", help="load and exit instead of serving")
        parser.add_argument("--bind", default="127.0.0.1:8000", help="where to serve (default 127.0.0.1:8000)")

    def handle(self, *args, **options):
        count = options["customers"]
        if not 0 <= count <= MAX_CUSTOMERS:
            raise CommandError(f"--customers takes 0 to {MAX_CUSTOMERS:,}")
        call_command("migrate", interactive=False, verbosity=0)
        ctx = DemoContext(customers=count, seed=options["seed"], now=_as_of(options["as_of"]), users={},
                          write=self.stdout.write)
        created = self._users(ctx)
        loaders = [import_module(path) for path in LOADERS]
        if options["reset"]:
            existing = Customer.objects.count()
            if existing and options["interactive"] and sys.stdin.isatty():
                answer = input(f"Delete all {existing:,} customers of this database and what hangs off them? "
                               "Type 'yes' to go on: ")
                if answer.strip().lower() != "yes":
                    raise CommandError("Nothing deleted.")
            self.stdout.write("Deleting the existing demo data …")
            for loader in reversed(loaders):
                with transaction.atomic():
                    loader.demo_reset(ctx)
        existing = Customer.objects.count()
        if existing:
            self.stdout.write(f"The database already has {existing:,} customers: nothing loaded "
                              "(use --reset to start again).")
        elif count:
            self.stdout.write(f"Loading {MALL_NAME}: {count:,} customers, seed {ctx.seed}, as of {ctx.now:%Y-%m-%d} …")
            started = time.monotonic()
            for loader in loaders:
                ctx.results.update(loader.demo_load(ctx) or {})
            summary = ", ".join(f"{value:,} {name}" for name, value in ctx.results.items())
            self.stdout.write(f"Loaded {summary} in {time.monotonic() - started:.1f} s.")
            self._vacuum()
        self._print_logins(options["bind"], created)
        if not options["no_serve"]:
            self._serve(options["bind"])

    def _vacuum(self) -> None:
        """On PostgreSQL, vacuum and analyze the freshly loaded tables at once: autovacuum would do it in the next
        minutes anyway (PostgreSQL 13+ vacuums after bulk inserts), slowing the first pages while it runs, and
        until then every first read of a row writes its page back (hint bits)."""
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            return
        started = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")
        self.stdout.write(f"Vacuumed and analyzed in {time.monotonic() - started:.1f} s.")

    def _users(self, ctx: DemoContext) -> set[str]:
        """Create the missing demo users (one per role); leave existing ones as they are."""
        created = set()
        for username, display_name, role in DEMO_USERS:
            user = User.objects.filter(username=username).first()
            if user is None:
                user = user_create(actor=None, username=username, password=PASSWORD, role=role,
                                   display_name=display_name)
                created.add(username)
            ctx.users[username] = user
        return created

    def _print_logins(self, bind: str, created: set[str]) -> None:
        self.stdout.write("")
        self.stdout.write(f"Fidelis demo — {MALL_NAME}: http://{bind}/")
        self.stdout.write("Logins (username / password / role):")
        for username, _display_name, role in DEMO_USERS:
            note = "" if username in created else "  (existing user, password unchanged)"
            self.stdout.write(f"  {username:<10} / {PASSWORD} / {Role(role).label}{note}")
        self.stdout.write("")

    def _serve(self, bind: str) -> None:
        self.stdout.write(f"Serving on http://{bind}/ with gunicorn (Ctrl-C stops) …")
        self.stdout.flush()
        os.environ.setdefault("FIDELIS_DATA_DIR", str(settings.DATA_DIR))
        argv = [sys.executable, "-m", "gunicorn", "fidelis.config.wsgi", "--bind", bind, "--workers", "2",
                "--threads", "2", "--worker-class", "gthread", "--access-logfile", "-", *gunicorn_extra_args()]
        # Replace this process, so that Ctrl-C and signals go straight to gunicorn.
        os.execv(sys.executable, argv)
