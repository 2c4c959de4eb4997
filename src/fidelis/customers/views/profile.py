"""Customer list and search, create and edit, the 360° page and its parts (cards, tags, consent, contacts,
timeline)."""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import prefetch_related_objects
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from fidelis.accounts.decorators import require_capability
from fidelis.accounts.models import Role
from fidelis.accounts.permissions import has_capability, may_change_customer
from fidelis.core.errors import DomainError, form_error
from fidelis.customers import panels, selectors, services
from fidelis.customers.forms import ConsentForm, ContactForm, CustomerForm, TagForm
from fidelis.customers.models import Category, ConsentChannel, LifecycleStage, Tag, ValueTier

FILTERS = ("category", "value_tier", "lifecycle_stage", "tag", "archived")
PAGE_SIZE = 50
SEARCH_LIMIT = 50
TIMELINE_PAGE = 30


def _filters(request) -> dict[str, str]:
    return {k: request.GET[k].strip() for k in FILTERS if request.GET.get(k, "").strip()}


def _masks_contact_data(user) -> bool:
    # Read-only staff see enough of a phone or e-mail to recognise a customer, not to contact one.
    return user.effective_role == Role.READONLY


def _search(user, q: str) -> list:
    customers = selectors.customer_search(user, q, limit=SEARCH_LIMIT)
    prefetch_related_objects(customers, "tags")
    return customers


@require_capability("customer.view")
def customer_list(request):
    """List the customers the user sees: searched as they type, or filtered and paginated."""
    q = request.GET.get("q", "").strip()
    filters = _filters(request)
    page = None
    if q:
        customers = _search(request.user, q)
    else:
        qs = selectors.customer_list_filtered(request.user, **filters)
        page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
        customers = page.object_list
    context = {
        "customers": customers, "page": page, "q": q, "filters": filters,
        "export_query": urlencode({**filters, **({"q": q} if q else {})}),
        "categories": Category.choices, "tiers": ValueTier.choices, "stages": LifecycleStage.choices,
        "tags": Tag.objects.order_by("group", "name")[:200],
        "can_export": has_capability(request.user, "customer.export"),
        "can_add": has_capability(request.user, "customer.add"),
        "mask": _masks_contact_data(request.user), "search_limit": SEARCH_LIMIT,
    }
    return render(request, "customers/customer_list.html", context)


@require_capability("customer.view")
def customer_search(request):
    """Answer the as-you-type search with the table rows only."""
    q = request.GET.get("q", "").strip()
    total = None
    if q:
        customers = _search(request.user, q)
    else:
        listed = selectors.customer_list_filtered(request.user, **_filters(request))
        customers, total = listed[:PAGE_SIZE], listed.count()
    # The rows, and the heading's count in their place (an out-of-band swap): the matches, or all when cleared.
    return render(request, "customers/_customer_rows.html",
                  {"customers": customers, "q": q, "mask": _masks_contact_data(request.user), "total": total,
                   "search_limit": SEARCH_LIMIT, "oob_count": True})


@require_capability("customer.add")
def customer_create(request):
    """Create a customer (a sales rep is the owner unless they choose otherwise)."""
    initial = {"owner": request.user.pk} if request.user.effective_role == Role.SALES else {}
    form = CustomerForm(request.POST or None, user=request.user, initial=initial)
    duplicate = None
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.customer_create(actor=request.user, data=form.service_data(),
                                                owner=form.cleaned_data.get("owner"),
                                                allow_duplicate=form.cleaned_data["confirm_duplicate"])
        except DomainError as exc:
            form_error(form, exc)
            if exc.code == "duplicate_customer":
                # The notice offers the stored record (when the user may see it) and the "create anyway" box.
                duplicate = {"message": str(exc.message), "existing": exc.params.get("existing")}
        else:
            messages.success(request, _("Customer %(name)s created.") % {"name": customer.name})
            return redirect("customers:detail", public_id=customer.public_id)
    return render(request, "customers/customer_form.html", {"form": form, "creating": True, "duplicate": duplicate})


@require_capability("customer.change")
def customer_edit(request, public_id: str):
    """Change a customer's profile."""
    customer = selectors.customer_get_for_user(request.user, public_id)
    if not may_change_customer(request.user, customer) or customer.erased_at:
        return render(request, "web/403.html", status=403)
    form = CustomerForm(request.POST or None, instance=customer, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.service_data() | {"owner": form.cleaned_data.get("owner")}
        try:
            services.customer_update(actor=request.user, customer=customer, data=data)
        except DomainError as exc:
            # The service set the new values on the instance before it refused them.
            customer.refresh_from_db()
            form_error(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("customers:detail", public_id=customer.public_id)
    return render(request, "customers/customer_form.html", {"form": form, "customer": customer})


def _may_change(request, customer) -> bool:
    return may_change_customer(request.user, customer) and not customer.erased_at


def _tags_context(request, customer) -> dict:
    can_change = _may_change(request, customer)
    # Only the panel's form when it is shown: a form deep-copies its fields.
    return {"customer": customer, "tags": list(customer.tags.all()), "can_change": can_change,
            "tag_form": TagForm() if can_change else None}


def _consent_context(request, customer) -> dict:
    consents = {c.channel: c for c in customer.consents.select_related("recorded_by")}
    # The form comes on demand (`consent_set` answers a GET with it): most visits only read the consents.
    return {"customer": customer,
            "can_consent": _may_change(request, customer) and has_capability(request.user, "customer.consent"),
            "consent_rows": [(value, label, consents.get(value)) for value, label in ConsentChannel.choices]}


@require_capability("customer.view")
def customer_detail(request, public_id: str):
    """Show the 360° page: profile, classification, tags and contacts.

    The cards below the profile (`customer_panels`) and the timeline (`customer_timeline`) are loaded by the page
    afterwards, side by side: the profile shows at once.
    """
    customer = selectors.customer_get_for_user(request.user, public_id)
    tags = _tags_context(request, customer)
    context = {
        **tags,
        "contacts": list(customer.contacts.all()) if customer.is_company else [],
        "contact_form": ContactForm() if customer.is_company and tags["can_change"] else None,
        "can_privacy": has_capability(request.user, "customer.privacy"),
        "can_restore": customer.archived_at is not None and has_capability(request.user, "customer.cleanup"),
        # Calls, visits and notes are logged by whoever works with the customer (the form: work.interaction_log).
        "can_log": not customer.erased_at and has_capability(request.user, "task.change"),
        "mask": _masks_contact_data(request.user),
        "funnel": selectors.customer_lifecycle_funnel(customer),
    }
    return render(request, "customers/customer_detail.html", context)


@require_capability("customer.view")
def customer_panels(request, public_id: str):
    """Return the cards of the 360° page below the profile in one response: those of the other apps
    (`fidelis.customers.panels`: member club, orders, opportunities, tasks) that the user may see, then consent."""
    customer = selectors.customer_get_for_user(request.user, public_id)
    cards = [render_to_string(template, context, request)
             for template, context in panels.customer_panels(request, customer)]
    return render(request, "customers/_panels.html", {"cards": cards, **_consent_context(request, customer)})


@require_capability("customer.view")
def customer_timeline(request, public_id: str):
    """Return the timeline's newest events, or its next page: the events older than the event `before`."""
    customer = selectors.customer_get_for_user(request.user, public_id)
    before = request.GET.get("before", "")
    events = selectors.customer_timeline_page(customer, limit=TIMELINE_PAGE,
                                              before_id=int(before) if before.isdigit() else None)
    return render(request, "customers/_timeline.html",
                  {"customer": customer, "events": events, "has_more": len(events) == TIMELINE_PAGE,
                   "more": bool(before)})


def _panel_or_redirect(request, customer, template: str, context, extra: dict):
    if request.htmx:
        return render(request, template, context(request, customer) | extra)
    return redirect("customers:detail", public_id=customer.public_id)


@require_POST
@require_capability("customer.change")
def tag_add(request, public_id: str):
    """Put a tag on the customer ("group:name" or "name"); answer htmx with the tags panel."""
    customer = selectors.customer_get_for_user(request.user, public_id)
    form = TagForm(request.POST)
    error = None
    if form.is_valid():
        try:
            services.customer_tag_add(actor=request.user, customer=customer, tag_name=form.cleaned_data["tag"])
        except DomainError as exc:
            error = str(exc.message)
    else:
        error = " ".join(str(e) for errors in form.errors.values() for e in errors)
    if error and not request.htmx:
        messages.error(request, error)
    return _panel_or_redirect(request, customer, "customers/_tags.html", _tags_context, {"tag_error": error})


@require_POST
@require_capability("customer.change")
def tag_remove(request, public_id: str, tag_id: int):
    """Take a tag off the customer; answer htmx with the tags panel."""
    customer = selectors.customer_get_for_user(request.user, public_id)
    tag = get_object_or_404(Tag, pk=tag_id)
    error = None
    try:
        services.customer_tag_remove(actor=request.user, customer=customer, tag=tag)
    except DomainError as exc:
        error = str(exc.message)
        if not request.htmx:
            messages.error(request, error)
    return _panel_or_redirect(request, customer, "customers/_tags.html", _tags_context, {"tag_error": error})


@require_http_methods(["GET", "POST"])
@require_capability("customer.consent")
def consent_set(request, public_id: str):
    """Record consent given or withdrawn for one channel, with its source; answer htmx with the consent panel.
    A GET answers htmx with the form alone, which the panel asks for when the user opens it."""
    customer = selectors.customer_get_for_user(request.user, public_id)
    if request.method == "GET":
        return _panel_or_redirect(request, customer, "customers/_consent_form.html", _consent_context,
                                  {"consent_form": ConsentForm()})
    form = ConsentForm(request.POST)
    error = None
    if form.is_valid():
        try:
            services.consent_set(actor=request.user, customer=customer, channel=form.cleaned_data["channel"],
                                 granted=form.cleaned_data["granted"], source=form.cleaned_data["source"])
        except DomainError as exc:
            error = str(exc.message)
    else:
        error = " ".join(f"{form[name].label}: {e}" for name, errors in form.errors.items() for e in errors)
    if error and not request.htmx:
        messages.error(request, error)
    # After an error the form stays open with what was entered; after a record the panel shows it, form closed.
    return _panel_or_redirect(request, customer, "customers/_consent.html", _consent_context,
                              {"consent_error": error, "consent_form": form if error else None})


@require_POST
@require_capability("customer.change")
def contact_add(request, public_id: str):
    """Add a contact person to a company customer."""
    customer = selectors.customer_get_for_user(request.user, public_id)
    form = ContactForm(request.POST)
    if form.is_valid():
        try:
            services.contact_create(actor=request.user, customer=customer, **form.cleaned_data)
        except DomainError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("Contact %(name)s added.") % {"name": form.cleaned_data["name"]})
    else:
        messages.error(request, " ".join(f"{form[name].label}: {e}" for name, errors in form.errors.items()
                                         for e in errors))
    return redirect("customers:detail", public_id=customer.public_id)
