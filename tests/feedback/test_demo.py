"""The demo's touchpoint catalogue: every stage has touchpoints with teams, and loading twice makes it once."""

import io

import pytest

from fidelis.accounts.models import AuditEntry
from fidelis.feedback import demo
from fidelis.feedback.models import JourneyStage, Touchpoint
from fidelis.web.management.commands.demo import LOADERS, DemoContext

pytestmark = pytest.mark.django_db


def _ctx(manager) -> DemoContext:
    return DemoContext(customers=0, seed=2026, now=None, users={"manager": manager}, write=io.StringIO().write)


def test_the_demo_command_loads_the_catalogue_after_the_other_apps():
    assert LOADERS[-1] == "fidelis.feedback.demo"


def test_demo_load_creates_the_malls_touchpoints_once(manager):
    # when: loaded twice
    first = demo.demo_load(_ctx(manager))
    second = demo.demo_load(_ctx(manager))
    # then: the catalogue is there once, every stage has touchpoints, each with a team
    assert first == {"touchpoints": len(demo.TOUCHPOINTS)} and second == {"touchpoints": 0}
    assert Touchpoint.objects.count() == len(demo.TOUCHPOINTS) >= 10
    assert set(Touchpoint.objects.values_list("stage", flat=True)) == set(JourneyStage.values)
    assert not Touchpoint.objects.filter(owner_team="").exists()
    assert {"商场入口", "收银台", "客服热线", "退换货/售后"} <= set(Touchpoint.objects.values_list("name", flat=True))
    assert AuditEntry.objects.filter(action="touchpoint.create", via="demo").count() == len(demo.TOUCHPOINTS)
    # a reset empties it
    demo.demo_reset(_ctx(manager))
    assert not Touchpoint.objects.exists()
