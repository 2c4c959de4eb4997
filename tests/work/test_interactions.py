"""Log an interaction from the 360° page: on the timeline at once, with an optional follow-up task."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from fidelis.accounts.models import AuditEntry, Role
from fidelis.core.errors import DomainError, PermissionDenied
from fidelis.events.models import Event
from fidelis.work.models import Task
from fidelis.work.services import interaction_log
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_a_call_with_a_follow_up_is_one_event_one_task_and_one_audit_row(users):
    service = users[Role.SERVICE]
    customer = CustomerFactory(name="李静")
    due = timezone.now() + timedelta(days=2)
    event = interaction_log(actor=service, customer=customer, type="call.logged", channel="phone",
                            outcome="follow_up", text="想了解会员日活动", follow_up_at=due)
    assert (event.type, event.channel, event.actor, event.line) == ("call.logged", "phone", service,
                                                                    "想了解会员日活动")
    assert event.payload == {"outcome": "follow_up", "text": "想了解会员日活动"}
    task = Task.objects.get(customer=customer)
    assert (task.owner, task.source_event, task.due_at) == (service, event, due)
    assert AuditEntry.objects.filter(action="customer.interaction_log").count() == 1


@pytest.mark.parametrize(("changes", "field"), [({"type": "order.paid"}, "type"), ({"channel": "fax"}, "channel"),
                                                ({"outcome": "maybe"}, "outcome"), ({"text": "", "outcome": ""}, "text"),
                                                ({"text": "x" * 2001}, "text")])
def test_a_bad_interaction_is_refused_naming_the_field_and_writes_nothing(users, changes, field):
    customer = CustomerFactory()
    data = {"type": "note.added", "channel": "store", "outcome": "", "text": "到店", **changes}
    with pytest.raises(DomainError) as refused:
        interaction_log(actor=users[Role.SALES], customer=customer, **data)
    assert refused.value.field == field
    assert not Event.objects.filter(customer=customer, type__in=["note.added", "order.paid"]).exists()


def test_a_read_only_user_cannot_log(users):
    with pytest.raises(PermissionDenied):
        interaction_log(actor=users[Role.READONLY], customer=CustomerFactory(), type="note.added", channel="store",
                        text="x")


def test_the_form_comes_on_demand_and_the_event_shows_on_the_timeline(client, users):
    client.force_login(users[Role.MANAGER])
    customer = CustomerFactory()
    page = client.get(reverse("customers:detail", args=[customer.public_id])).content.decode()
    url = reverse("work:interaction_log", args=[customer.public_id])
    assert url in page and 'id="interaction-form"' not in page
    assert 'id="interaction-form"' in client.get(url).content.decode()
    # a refused one comes back with the error on its field
    refused = client.post(url, {"type": "call.logged", "channel": "phone", "outcome": "", "text": ""},
                          HTTP_HX_REQUEST="true")
    assert refused.status_code == 200 and 'id="error-text"' in refused.content.decode()
    saved = client.post(url, {"type": "call.logged", "channel": "phone", "outcome": "reached", "text": "已回电"},
                        HTTP_HX_REQUEST="true")
    assert saved.status_code == 204 and saved["HX-Redirect"] == reverse("customers:detail", args=[customer.public_id])
    timeline = client.get(reverse("customers:timeline", args=[customer.public_id])).content.decode()
    assert "已回电" in timeline and 'data-outcome="reached"' in timeline
