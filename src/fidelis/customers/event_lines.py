"""The timeline sentences of the customer archive's events (`events.lines`)."""

from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext as _

from fidelis.customers.models import ConsentChannel, Customer
from fidelis.events.lines import line_for, listed


def field_label(name: str) -> str:
    """Return the name of a customer field in the active language (an unknown one as it is)."""
    try:
        # get_field knows a foreign key by its column name too (owner_id).
        return str(Customer._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:
        return name


def _form_order(name: str) -> int:
    """Return where the field comes on the customer's form (the order of the model's fields)."""
    names = [f.attname for f in Customer._meta.concrete_fields]
    return names.index(name) if name in names else len(names)


@line_for("customer.created")
def created_line(payload: dict, event) -> str | None:
    if payload.get("file"):
        return _("Customer record imported from %(file)s") % {"file": payload["file"]}
    return None


@line_for("customer.updated")
def updated_line(payload: dict, event) -> str | None:
    fields = payload["fields"]
    if not fields:
        return None
    return _("Changed: %(fields)s") % {"fields": listed([field_label(name) for name in sorted(fields, key=_form_order)])}


@line_for("customer.merged")
def merged_line(payload: dict, event) -> str:
    return _("Merged with record %(number)s") % {"number": payload["absorbed"]}


@line_for("tag.added", "tag.removed")
def tag_line(payload: dict, event) -> str:
    group, name = payload.get("group") or "", payload["tag"]
    return f"{group}:{name}" if group else name


@line_for("consent.granted", "consent.withdrawn")
def consent_line(payload: dict, event) -> str:
    channel = payload["channel"]
    label = ConsentChannel(channel).label if channel in ConsentChannel.values else channel
    source = payload.get("source") or ""
    return f"{label} · {source}" if source else str(label)
