"""The audit log names actions, fields and choice values in the viewer's language; it stores only codes."""

import pytest
from django.urls import reverse

from fidelis.accounts.audit_labels import ACTION_LABELS, action_label, change_text, field_label
from fidelis.accounts.models import AuditEntry
from fidelis.accounts.services import audit_record
from fidelis.customers.services import consent_set, customer_tag_add, customer_update
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _audit_page(client, **query) -> str:
    response = client.get(reverse("accounts:audit"), query)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def viewer(client, manager):
    client.force_login(manager)
    return client


def test_audit_log_shows_action_field_and_choice_labels_in_chinese_then_english(viewer, manager):
    # given: a stage change, a tag and a consent, stored as codes
    customer = CustomerFactory(name="李静", lifecycle_stage="interested")
    customer_update(actor=manager, customer=customer, data={"lifecycle_stage": "buyer"})
    customer_tag_add(actor=manager, customer=customer, tag_name="VIP")
    consent_set(actor=manager, customer=customer, channel="sms", granted=True, source="门店登记")
    entry = AuditEntry.objects.get(action="customer.update")
    assert entry.changes == {"lifecycle_stage": ["interested", "buyer"]}
    # when: the page in Chinese (the default)
    chinese = _audit_page(viewer)
    # then
    assert '<td title="customer.update" data-action="customer.update">已修改客户</td>' in chinese
    assert "<li><b>生命周期阶段</b>: 感兴趣者 → 购买者</li>" in chinese
    assert "<li><b>标签</b>: VIP</li>" in chinese and "已添加标签" in chinese
    assert "<li><b>短信授权</b>: 是</li>" in chinese and "<li><b>来源</b>: 门店登记</li>" in chinese
    # when: the viewer switches to English
    viewer.post(reverse("set_language"), {"language": "en"})
    english = _audit_page(viewer)
    # then
    assert '<td title="customer.update" data-action="customer.update">Customer changed</td>' in english
    assert "<li><b>Lifecycle stage</b>: Interested → Buyer</li>" in english
    assert "<li><b>Tags</b>: VIP</li>" in english and "Tag added" in english
    assert "<li><b>SMS consent</b>: Yes</li>" in english and "<li><b>Source</b>: 门店登记</li>" in english
    assert "customer.tag_add</td>" not in english and "lifecycle_stage" not in english
    assert '<td class="hide-sm">Web</td>' in english and '<td class="hide-sm">网页</td>' in chinese


def test_audit_filter_offers_labels_and_filters_by_the_code(viewer, manager):
    customer = CustomerFactory(name="王芳")
    customer_tag_add(actor=manager, customer=customer, tag_name="VIP")
    customer_update(actor=manager, customer=customer, data={"city": "杭州"})
    viewer.post(reverse("set_language"), {"language": "en"})
    page = _audit_page(viewer)
    assert '<option value="customer.tag_add">Tag added</option>' in page
    filtered = _audit_page(viewer, action="customer.tag_add")
    assert '<option value="customer.tag_add" selected>Tag added</option>' in filtered
    assert 'data-action="customer.tag_add"' in filtered and 'data-action="customer.update"' not in filtered


def test_an_unknown_action_and_field_are_shown_as_they_are(viewer, manager):
    audit_record(actor=manager, action="plugin.sync", object_type="plugin.thing", object_repr="X",
                 changes={"rows": [None, 3], "colour": ["red", "blue"]})
    page = _audit_page(viewer)
    assert '<td title="plugin.sync" data-action="plugin.sync">plugin.sync</td>' in page
    assert "<li><b>colour</b>: red → blue</li>" in page and "<li><b>行数</b>: 3</li>" in page


def test_stored_times_phones_and_amounts_are_written_as_the_pages_write_them(viewer, manager):
    customer = CustomerFactory(name="赵六", phone="+8613600136000")
    customer_update(actor=manager, customer=customer, data={"phone": "13900139000"})
    audit_record(actor=manager, action="task.create", object_type="work.task", object_repr="回访",
                 changes={"due_at": [None, "2026-12-08T02:00:00+00:00"], "amount": [None, "12800.00"]})
    page = _audit_page(viewer)
    assert "136 0013 6000 → 139 0013 9000" in page and "+86" not in page
    assert "2026-12-08 10:00" in page and "T02:00" not in page and "12,800.00" in page


def test_every_action_label_starts_with_a_capital_letter():
    from django.utils import translation

    with translation.override("en"):
        assert all(str(label)[0].isupper() for label in ACTION_LABELS.values())
        assert action_label("customer.merge") == "Records merged" and action_label("x.y") == "x.y"
        assert field_label("customers.customer", "owner_id") == "Owner"
        assert change_text("customers.customer", "lifecycle_stage", [None, "loyal"]) == "Loyal member"
