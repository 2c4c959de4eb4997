"""Two people adding the same touchpoint at the same moment: one is made, the other is told the name is taken."""

import pytest
from django.db import connection

from fidelis.accounts.models import Role
from fidelis.core.errors import Conflict
from fidelis.feedback.models import Touchpoint
from fidelis.feedback.services import touchpoint_save
from tests.factories import UserFactory
from tests.threads import at_once


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_of_one_name_make_one_touchpoint_and_refuse_the_others():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL's concurrent writers")
    marketing = UserFactory(username="marketing", role=Role.MARKETING)
    data = {"name": "收银台", "stage": "purchase", "owner_team": "收银组"}
    # when: four saves of one name released together (each passes the name check before any commits)
    results = at_once(4, lambda i: touchpoint_save(actor=marketing, data=data))
    # then: one touchpoint; every other save is the duplicate refusal naming the field, never a database error
    made = [r for r in results if isinstance(r, Touchpoint)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(made) == 1 and len(refused) == 3, results
    assert {(r.code, r.field) for r in refused} == {("duplicate_name", "name")}
    assert Touchpoint.objects.count() == 1
