"""The words of the audit log: what each action is called and how a change reads, in the viewer's language.

An audit entry stores codes and values (rule 20): the action (`customer.tag_add`), and per field the old and new
value as written. The page names the action by `ACTION_LABELS`, a field by its model field's verbose name (or
`FIELD_LABELS` for the keys that are no field of the model), and a value by its choice's label when the field has
choices. A code not named here is shown as it is.
"""

import re
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.dateparse import parse_datetime
from django.utils.formats import number_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fidelis.core.dates import local_time
from fidelis.customers.normalize import format_phone

ACTION_LABELS = {
    # accounts
    "user.create": gettext_lazy("User created"),
    "user.set_role": gettext_lazy("Role changed"),
    "token.create": gettext_lazy("API token created"),
    "token.revoke": gettext_lazy("API token revoked"),
    # customers
    "customer.create": gettext_lazy("Customer created"),
    "customer.update": gettext_lazy("Customer changed"),
    "customer.tag_add": gettext_lazy("Tag added"),
    "customer.tag_remove": gettext_lazy("Tag removed"),
    "customer.consent": gettext_lazy("Consent recorded"),
    "customer.interaction_log": gettext_lazy("Interaction logged"),
    "customer.stage_advance": gettext_lazy("Lifecycle stage advanced"),
    "customer.merge": gettext_lazy("Records merged"),
    "customer.duplicate_dismiss": gettext_lazy("Duplicate dismissed"),
    "customer.duplicates_scan": gettext_lazy("Duplicates searched"),
    "customer.erase": gettext_lazy("Personal data erased"),
    "customer.archive": gettext_lazy("Customer archived"),
    "customer.restore": gettext_lazy("Customer brought back from the archive"),
    "customer.assign": gettext_lazy("Owner assigned"),
    "customer.export": gettext_lazy("Customers exported"),
    "customer.personal_export": gettext_lazy("Personal data exported"),
    "customer.import": gettext_lazy("Customers imported"),
    "customer.import_upload": gettext_lazy("Customer file uploaded"),
    "customer.import_sheet": gettext_lazy("Customer sheet chosen"),
    "contact.create": gettext_lazy("Contact added"),
    # events
    "webhook.create": gettext_lazy("Webhook created"),
    "webhook.update": gettext_lazy("Webhook changed"),
    "webhook.deactivate": gettext_lazy("Webhook switched off"),
    "webhook.retry": gettext_lazy("Webhook delivery retried"),
    "webhook.test": gettext_lazy("Webhook test sent"),
    # sales
    "order.create": gettext_lazy("Order recorded"),
    "order.refund": gettext_lazy("Order refunded"),
    "order.import": gettext_lazy("Orders imported"),
    "order.import_upload": gettext_lazy("Order file uploaded"),
    "order.import_sheet": gettext_lazy("Order sheet chosen"),
    "store.create": gettext_lazy("Store created"),
    "store.update": gettext_lazy("Store changed"),
    "category.create": gettext_lazy("Product category created"),
    "category.update": gettext_lazy("Product category changed"),
    "product.create": gettext_lazy("Product created"),
    "product.update": gettext_lazy("Product changed"),
    "sales.report_export": gettext_lazy("Sales report exported"),
    "sales.pipeline_report_export": gettext_lazy("Pipeline report exported"),
    "demo.load": gettext_lazy("Demo data loaded"),
    # pipeline
    "pipeline.create": gettext_lazy("Pipeline created"),
    "pipeline.update": gettext_lazy("Pipeline changed"),
    "stage.create": gettext_lazy("Stage added"),
    "stage.move": gettext_lazy("Stage moved"),
    "stage.delete": gettext_lazy("Stage deleted"),
    "opportunity.create": gettext_lazy("Opportunity recorded"),
    "opportunity.update": gettext_lazy("Opportunity changed"),
    "opportunity.move": gettext_lazy("Opportunity moved"),
    "contract.create": gettext_lazy("Contract registered"),
    "contract.update": gettext_lazy("Contract changed"),
    "contract.renew": gettext_lazy("Contract renewed"),
    "contract.terminate": gettext_lazy("Contract terminated"),
    "contract.expire": gettext_lazy("Contract expired"),
    # loyalty
    "loyalty.program_create": gettext_lazy("Loyalty program created"),
    "loyalty.tier_create": gettext_lazy("Tier created"),
    "loyalty.rule_create": gettext_lazy("Loyalty rule created"),
    "loyalty.rule_delete": gettext_lazy("Loyalty rule deleted"),
    "loyalty.member_enrol": gettext_lazy("Member enrolled"),
    "loyalty.member_leave": gettext_lazy("Member left"),
    "loyalty.points_adjust": gettext_lazy("Points adjusted"),
    "loyalty.points_backfill": gettext_lazy("Points back-filled"),
    "loyalty.points_pay": gettext_lazy("Paid with points"),
    "loyalty.reward_create": gettext_lazy("Reward created"),
    "loyalty.reward_redeem": gettext_lazy("Reward redeemed"),
    "loyalty.coupon_template_create": gettext_lazy("Coupon type created"),
    "loyalty.coupon_issue": gettext_lazy("Coupon issued"),
    "loyalty.coupon_redeem": gettext_lazy("Coupon redeemed"),
    "loyalty.coupon_reverse": gettext_lazy("Coupon given back"),
    "loyalty.coupon_void": gettext_lazy("Coupon voided"),
    # work
    "task.create": gettext_lazy("Task created"),
    "task.update": gettext_lazy("Task changed"),
    "task.complete": gettext_lazy("Task done"),
    "task.reopen": gettext_lazy("Task reopened"),
    "task.cancel": gettext_lazy("Task cancelled"),
    "task.snooze": gettext_lazy("Task snoozed"),
    "followup_rule.create": gettext_lazy("Follow-up rule created"),
    "followup_rule.update": gettext_lazy("Follow-up rule changed"),
    # feedback
    "touchpoint.create": gettext_lazy("Touchpoint created"),
    "touchpoint.update": gettext_lazy("Touchpoint changed"),
    "touchpoint.deactivate": gettext_lazy("Touchpoint deactivated"),
    "touchpoint.reactivate": gettext_lazy("Touchpoint reactivated"),
    "touchpoint.move": gettext_lazy("Touchpoint moved"),
}

# Keys of recorded changes that are no field of the entry's model.
FIELD_LABELS = {
    "tags": gettext_lazy("Tags"),
    "reason": gettext_lazy("Reason"),
    "source": gettext_lazy("Source"),
    "consent.sms": gettext_lazy("SMS consent"),
    "consent.email": gettext_lazy("E-mail consent"),
    "consent.wechat": gettext_lazy("WeChat consent"),
    "consent.phone": gettext_lazy("Phone consent"),
    "duplicate_of": gettext_lazy("Duplicate of"),
    "absorbed": gettext_lazy("Merged record"),
    "merge": gettext_lazy("Merge"),
    "events": gettext_lazy("Events"),
    "contacts": gettext_lazy("Contacts"),
    "consents": gettext_lazy("Consents"),
    "fields": gettext_lazy("Fields"),
    "events_scrubbed": gettext_lazy("Events scrubbed"),
    "merged_records": gettext_lazy("Merged records"),
    "lines": gettext_lazy("Lines"),
    "refund": gettext_lazy("Refund"),
    "next": gettext_lazy("Next task"),
    "renewal": gettext_lazy("Renewal"),
    "type": gettext_lazy("Type"),
    "outcome": gettext_lazy("Outcome"),
    "follow_up": gettext_lazy("Follow-up"),
    "file": gettext_lazy("File"),
    "rows": gettext_lazy("Rows"),
}


# How the action came in (the audit entry's `via`).
VIA_LABELS = {
    "web": gettext_lazy("Web"),
    "api": gettext_lazy("API"),
    "rule": gettext_lazy("Rule"),
    "system": gettext_lazy("System"),
    "import": gettext_lazy("Import"),
    "demo": gettext_lazy("Demo"),
    "backfill": gettext_lazy("Back-fill"),
    "recurrence": gettext_lazy("Recurring task"),
    "manual": gettext_lazy("By hand"),
    "reward": gettext_lazy("Reward"),
}


def action_label(code: str) -> str:
    """Return the name of an audited action in the active language (an unknown code as it is)."""
    return str(ACTION_LABELS.get(code, code))


def via_label(code: str) -> str:
    """Return how an audited action came in, in the active language (an unknown code as it is)."""
    return str(VIA_LABELS.get(code, code))


def _model(object_type: str) -> type[models.Model] | None:
    try:
        return apps.get_model(object_type)
    except (LookupError, ValueError):
        return None


def _field(model: type[models.Model] | None, name: str) -> models.Field | None:
    if model is None:
        return None
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


def field_label(object_type: str, name: str) -> str:
    """Return the name of a changed field of an object of this type ("customers.customer") in the active language."""
    field = _field(_model(object_type), name)
    if field is not None and getattr(field, "verbose_name", None):
        return capfirst(str(field.verbose_name))
    return str(FIELD_LABELS.get(name, name))


def _shown(value: Any, choices: dict) -> str:
    if value is None or value == "":
        return "∅"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, (list, tuple)):
        return ", ".join(_shown(v, choices) for v in value) or "∅"
    label = choices.get(value) if isinstance(value, (str, int)) else None
    if label is not None:
        return str(label)
    if isinstance(value, str):
        return _written(value)
    if isinstance(value, int | float):
        return number_format(value, force_grouping=True)
    return str(value)


STORED_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")
STORED_PHONE = re.compile(r"\+\d{7,15}")
STORED_DECIMAL = re.compile(r"-?\d{4,}\.\d+")


def _written(value: str) -> str:
    """Return a value stored as text as the pages write it: a time in the current time zone (2026-12-08 10:00), a
    phone as people write it, a decimal grouped by thousands (3,680.00); anything else as it is."""
    if STORED_TIME.match(value) and (moment := parse_datetime(value)) is not None:
        return local_time(moment)
    if STORED_PHONE.fullmatch(value):
        return format_phone(value)
    if STORED_DECIMAL.fullmatch(value):
        return number_format(Decimal(value), len(value.split(".")[1]), force_grouping=True)
    return value


def change_text(object_type: str, name: str, value: Any) -> str:
    """Return one recorded change as "old → new" (a pair; a new value alone when there was none), or the value
    recorded, with the labels of the field's choices in the active language; times, phones and amounts written as
    the pages write them."""
    field = _field(_model(object_type), name)
    choices = dict(field.flatchoices) if field is not None and getattr(field, "choices", None) else {}
    if isinstance(value, (list, tuple)) and len(value) == 2:
        old, new = value
        return _shown(new, choices) if old is None else f"{_shown(old, choices)} → {_shown(new, choices)}"
    return _shown(value, choices)


def changes_shown(object_type: str, changes: Any) -> list[tuple[str, str]]:
    """Return an entry's changes as (field name, change) pairs to show, in the active language."""
    if not isinstance(changes, dict):
        return [("", _shown(changes, {}))] if changes else []
    return [(field_label(object_type, name), change_text(object_type, name, value)) for name, value in changes.items()]
