"""The program page's "apply historical orders": a manager starts the back-fill of imported orders."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from fidelis.accounts.models import AuditEntry, Role
from fidelis.events.models import Event
from fidelis.loyalty.models import AppliedEvent, PointsEntry, Purchase
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _imported(member, *amounts):
    """Order events as the order import writes them: straight into the stream, not applied."""
    return Event.objects.bulk_create([
        Event(customer=member.customer, type="order.paid", occurred_at=timezone.now(), channel="store",
              payload={"amount": amount, "order_no": f"H{i}"}, idempotency_key=f"hist:{member.pk}:{i}")
        for i, amount in enumerate(amounts)])


def test_program_backfill_applies_the_imported_orders_once(client, program, member, manager):
    # given: two imported orders the member club has not seen
    events = _imported(member, "120.00", "80.00")
    client.force_login(manager)
    page = client.get(reverse("loyalty:program")).content.decode()
    assert reverse("loyalty:program_backfill", args=[program.public_id]) in page
    # when: applied (no broker in the tests: the task runs in the request), then once more
    url = reverse("loyalty:program_backfill", args=[program.public_id])
    response = client.post(url)
    again = client.post(url)
    # then: the points, purchases and applied rows once; the message says what was done; the audit log has it
    assert response.status_code == again.status_code == 302
    assert response["Location"].endswith(f"?program={program.public_id}")
    member.refresh_from_db()
    assert member.balance == 500 + 120 + 80 and member.purchases == 2
    assert Purchase.objects.filter(member=member).count() == 2
    assert AppliedEvent.objects.filter(program=program, event__in=events).count() == 2
    assert sum(PointsEntry.objects.filter(member=member).values_list("points", flat=True)) == member.balance
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("2" in text and "200" in text for text in texts), texts
    assert AuditEntry.objects.filter(action="loyalty.points_backfill", actor=manager).count() == 1


def test_program_backfill_is_for_managers_only(client, program, member):
    # given: a marketing user, who designs the program but does not move balances
    _imported(member, "99.00")
    client.force_login(UserFactory(role=Role.MARKETING))
    # when
    response = client.post(reverse("loyalty:program_backfill", args=[program.public_id]))
    page = client.get(reverse("loyalty:program")).content.decode()
    # then
    assert response.status_code == 403
    assert "program-backfill" not in page
    member.refresh_from_db()
    assert member.balance == 500 and not Purchase.objects.filter(member=member).exists()


def test_program_backfill_answers_get_with_405(client, program, manager):
    client.force_login(manager)
    assert client.get(reverse("loyalty:program_backfill", args=[program.public_id])).status_code == 405


@pytest.mark.parametrize(("language", "words"), [("en", ["Purchase", "Joined the member club"]),
                                                 ("zh-hans", ["购买", "加入会员俱乐部"])])
def test_the_program_page_names_rule_triggers_in_the_viewers_language(client, program, manager, language, words):
    client.force_login(manager)
    client.post(reverse("set_language"), {"language": language})
    for url in (reverse("loyalty:program"), reverse("loyalty:design_rules", args=[program.public_id])):
        page = client.get(url).content.decode()
        assert all(word in page for word in words), (url, language)
