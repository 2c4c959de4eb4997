"""An archived record leaves the working lists and the export, shows as archived on its page, and can come back."""

import pytest
from django.urls import reverse

from fidelis.accounts.models import AuditEntry
from fidelis.customers import cleanup
from fidelis.customers.models import Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(marketing):
    kept, gone = CustomerFactory(name="在用客户"), CustomerFactory(name="归档客户")
    cleanup.customers_archive(actor=marketing, customers=[gone])
    gone.refresh_from_db()
    return kept, gone


def _names(response) -> set[str]:
    return {c.name for c in response.context["customers"]}


def test_the_list_leaves_archived_records_out_unless_asked(client, marketing, records):
    kept, gone = records
    client.force_login(marketing)
    assert _names(client.get(reverse("customers:list"))) == {kept.name}
    assert _names(client.get(reverse("customers:list"), {"archived": "only"})) == {gone.name}
    both = client.get(reverse("customers:list"), {"archived": "all"})
    assert _names(both) == {kept.name, gone.name}
    assert "归档" in both.content.decode() or "Archived" in both.content.decode()


def test_the_export_follows_the_archive_filter(client, marketing, records):
    kept, gone = records
    client.force_login(marketing)
    default = b"".join(client.get(reverse("customers:export")).streaming_content).decode("utf-8-sig")
    archived = b"".join(client.get(reverse("customers:export"), {"archived": "only"}).streaming_content
                        ).decode("utf-8-sig")
    assert kept.number in default and gone.number not in default
    assert gone.number in archived and kept.number not in archived


def test_the_page_of_an_archived_record_says_so_and_brings_it_back(client, marketing, records):
    _, gone = records
    client.force_login(marketing)
    client.post(reverse("set_language"), {"language": "en"})
    page = client.get(reverse("customers:detail", args=[gone.public_id])).content.decode()
    assert "Archived on" in page and 'id="restore-customer"' in page
    response = client.post(reverse("customers:restore", args=[gone.public_id]))
    assert response.status_code == 302
    gone.refresh_from_db()
    assert gone.archived_at is None
    entry = AuditEntry.objects.get(action=cleanup.ACTION_RESTORE)
    assert entry.object_id == gone.public_id and entry.actor == marketing
    assert 'id="restore-customer"' not in client.get(reverse("customers:detail", args=[gone.public_id])
                                                     ).content.decode()


def test_restoring_a_record_that_is_not_archived_is_refused_with_a_message(client, marketing, records):
    kept, _ = records
    client.force_login(marketing)
    client.post(reverse("set_language"), {"language": "en"})
    page = client.post(reverse("customers:restore", args=[kept.public_id]), follow=True).content.decode()
    assert "This record is not archived." in page
    assert not AuditEntry.objects.filter(action=cleanup.ACTION_RESTORE).exists()


def test_only_the_cleanup_role_brings_records_back(client, readonly, records):
    _, gone = records
    client.force_login(readonly)
    assert client.post(reverse("customers:restore", args=[gone.public_id])).status_code == 403
    assert Customer.objects.get(pk=gone.pk).archived_at is not None
    page = client.get(reverse("customers:detail", args=[gone.public_id])).content.decode()
    assert 'id="restore-customer"' not in page
