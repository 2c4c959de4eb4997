"""Customer list and search, create and edit, the 360° page and its parts (tags, consent, contacts, timeline)."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fidelis.accounts.permissions import has_capability, may_change_customer
from fidelis.core.errors import DomainError
from fidelis.customers.forms import ConsentForm, ContactForm, CustomerForm, TagForm
from fidelis.customers.models import Category, ConsentChannel, LifecycleStage, Tag, ValueTier
from fidelis.customers.selectors import (
    customer_get_for_user,
    customer_list_filtered,
)
from fidelis.customers.selectors import (
    customer_search as search_customers,
)
from fidelis.customers.selectors import (
    customer_timeline as timeline_of,
)
from fidelis.customers.services import (
    consent_set as set_consent,
)
from fidelis.customers.services import (
    contact_create,
    customer_tag_add,
    customer_tag_remove,
    customer_update,
)
from fidelis.customers.services import (
    customer_create as create_customer,
)
from fidelis.web.access import require_capability

FILTERS = ("category", "value_tier", "lifecycle_stage", "tag")


def _filters(request) -> dict[str, str]:
    return {k: request.GET[k] for k in FILTERS if request.GET.get(k)}


@require_capability("customer.view")
def customer_list(request):
    q = request.GET.get("q", "").strip()
    filters = _filters(request)
    page = None
    if q:
        customers = search_customers(request.user, q, limit=50)
    else:
        page = Paginator(customer_list_filtered(request.user, **filters), 50).get_page(request.GET.get("page"))
        customers = page.object_list
    context = {
        "customers": customers, "page": page, "q": q, "filters": filters,
        "categories": Category.choices, "tiers": ValueTier.choices, "stages": LifecycleStage.choices,
        "tags": Tag.objects.all()[:200],
        "can_export": has_capability(request.user, "customer.export"),
        "can_add": has_capability(request.user, "customer.add"),
        "querystring": request.GET.urlencode(),
    }
    return render(request, "customers/customer_list.html", context)


@require_capability("customer.view")
def customer_search(request):
    """Answer the as-you-type search with the rows partial."""
    q = request.GET.get("q", "").strip()
    customers = search_customers(request.user, q, limit=50) if q else \
        customer_list_filtered(request.user, **_filters(request))[:50]
    return render(request, "customers/_customer_rows.html", {"customers": customers, "q": q})


@require_capability("customer.add")
def customer_create(request):
    form = CustomerForm(request.POST or None, user=request.user,
                        initial={"owner": request.user.pk if request.user.role == "sales" else None})
    if request.method == "POST" and form.is_valid():
        try:
            customer = create_customer(actor=request.user, data=form.service_data(),
                                       owner=form.cleaned_data.get("owner"))
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc.message))
        else:
            messages.success(request, _("Customer %(name)s created.") % {"name": customer.name})
            return redirect("customers:detail", public_id=customer.public_id)
    return render(request, "customers/customer_form.html", {"form": form, "creating": True})


@require_capability("customer.change")
def customer_edit(request, public_id: str):
    customer = customer_get_for_user(request.user, public_id)
    if not may_change_customer(request.user, customer):
        return render(request, "web/403.html", status=403)
    form = CustomerForm(request.POST or None, instance=customer, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.service_data()
        data["owner"] = form.cleaned_data.get("owner")
        try:
            customer_update(actor=request.user, customer=customer, data=data)
        except DomainError as exc:
            customer.refresh_from_db()
            form.add_error(exc.field if exc.field in form.fields else None, str(exc.message))
        else:
            messages.success(request, _("Changes saved."))
            return redirect("customers:detail", public_id=customer.public_id)
    return render(request, "customers/customer_form.html", {"form": form, "customer": customer})


def _detail_context(request, customer) -> dict:
    consents = {c.channel: c for c in customer.consents.select_related("recorded_by")}
    return {
        "customer": customer,
        "tags": list(customer.tags.all()),
        "consent_rows": [(value, label, consents.get(value)) for value, label in ConsentChannel.choices],
        "contacts": list(customer.contacts.all()) if customer.is_company else [],
        "stages": LifecycleStage.choices,
        "stage_index": LifecycleStage.values.index(customer.lifecycle_stage),
        "can_change": may_change_customer(request.user, customer) and not customer.erased_at,
        "can_privacy": has_capability(request.user, "customer.privacy"),
        "tag_form": TagForm(), "consent_form": ConsentForm(), "contact_form": ContactForm(),
    }


@require_capability("customer.view")
def customer_detail(request, public_id: str):
    customer = customer_get_for_user(request.user, public_id)
    events = timeline_of(customer, limit=30)
    context = _detail_context(request, customer) | {"events": events, "has_more": len(events) == 30}
    return render(request, "customers/customer_detail.html", context)


@require_capability("customer.view")
def customer_timeline(request, public_id: str):
    customer = customer_get_for_user(request.user, public_id)
    before = request.GET.get("before")
    events = timeline_of(customer, limit=30, before_id=int(before) if before and before.isdigit() else None)
    return render(request, "customers/_timeline.html",
                  {"customer": customer, "events": events, "has_more": len(events) == 30})


def _partial_or_redirect(request, customer, template: str, context: dict):
    if request.htmx:
        return render(request, template, _detail_context(request, customer) | context)
    return redirect("customers:detail", public_id=customer.public_id)


@require_POST
@require_capability("customer.change")
def tag_add(request, public_id: str):
    customer = customer_get_for_user(request.user, public_id)
    form = TagForm(request.POST)
    error = None
    if form.is_valid():
        try:
            customer_tag_add(actor=request.user, customer=customer, tag_name=form.cleaned_data["tag"])
        except DomainError as exc:
            error = str(exc.message)
    else:
        error = _("Type a tag.")
    if error and not request.htmx:
        messages.error(request, error)
    return _partial_or_redirect(request, customer, "customers/_tags.html", {"tag_error": error})


@require_POST
@require_capability("customer.change")
def tag_remove(request, public_id: str, tag_id: int):
    customer = customer_get_for_user(request.user, public_id)
    tag = get_object_or_404(Tag, pk=tag_id)
    try:
        customer_tag_remove(actor=request.user, customer=customer, tag=tag)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    return _partial_or_redirect(request, customer, "customers/_tags.html", {})


@require_POST
@require_capability("customer.consent")
def consent_set(request, public_id: str):
    customer = customer_get_for_user(request.user, public_id)
    form = ConsentForm(request.POST)
    error = None
    if form.is_valid():
        try:
            set_consent(actor=request.user, customer=customer, channel=form.cleaned_data["channel"],
                        granted=form.cleaned_data["granted"], source=form.cleaned_data["source"])
        except DomainError as exc:
            error = str(exc.message)
    else:
        error = " ".join(str(e) for errs in form.errors.values() for e in errs)
    if error and not request.htmx:
        messages.error(request, error)
    return _partial_or_redirect(request, customer, "customers/_consent.html", {"consent_error": error})


@require_POST
@require_capability("customer.change")
def contact_add(request, public_id: str):
    customer = customer_get_for_user(request.user, public_id)
    form = ContactForm(request.POST)
    if form.is_valid():
        try:
            contact_create(actor=request.user, customer=customer, **form.cleaned_data)
        except DomainError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("Contact added."))
    else:
        messages.error(request, _("Check the contact's data."))
    return redirect("customers:detail", public_id=customer.public_id)
