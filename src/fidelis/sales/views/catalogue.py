"""The product catalogue in the UI: products, stores and categories, each with a list and a create/edit form."""

from collections.abc import Callable

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _

from fidelis.accounts.decorators import require_capability
from fidelis.core.errors import DomainError, form_error
from fidelis.sales import selectors, services
from fidelis.sales.forms import CategoryForm, ProductForm, StoreForm
from fidelis.sales.models import ProductCategory, Store

PAGE_SIZE = 50


def _catalogue_form(request, form, *, save: Callable, title: str, tab: str, cancel: str, saved: str, next_url: str):
    """Validate the form, call the service, show its refusal on the field; return the page or a redirect."""
    if request.method == "POST" and form.is_valid():
        try:
            obj = save(form.cleaned_data)
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, saved % {"name": str(obj)})
            return redirect(next_url)
    return render(request, "sales/catalogue_form.html", {"form": form, "title": title, "tab": tab, "cancel": cancel},
                  status=400 if form.errors else 200)


@require_capability("product.manage")
def product_list(request):
    q = request.GET.get("q", "").strip()
    category = request.GET.get("category", "")
    active = request.GET.get("active", "")
    qs = selectors.product_list_filtered(q=q, category=int(category) if category.isdigit() else None, active=active)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "sales/product_list.html", {
        "page": page, "products": page.object_list, "q": q, "category": category, "active": active,
        "categories": selectors.categories_tree(), "tab": "products"})


@require_capability("product.manage")
def product_create(request):
    form = ProductForm(request.POST or None)
    return _catalogue_form(request, form, title=_("New product"), tab="products", cancel=reverse("sales:product_list"),
                           saved=_("Product %(name)s saved."), next_url=reverse("sales:product_list"),
                           save=lambda data: services.product_save(actor=request.user, data=data))


@require_capability("product.manage")
def product_edit(request, public_id: str):
    product = selectors.product_get(public_id)
    form = ProductForm(request.POST or None, instance=product)
    return _catalogue_form(request, form, title=str(product), tab="products", cancel=reverse("sales:product_list"),
                           saved=_("Product %(name)s saved."), next_url=reverse("sales:product_list"),
                           save=lambda data: services.product_save(actor=request.user, product=product, data=data))


@require_capability("product.manage")
def store_list(request):
    form = StoreForm(request.POST or None)
    if request.method == "POST":
        return _catalogue_form(request, form, title=_("New store"), tab="stores",
                               cancel=reverse("sales:product_stores"), saved=_("Store %(name)s saved."),
                               next_url=reverse("sales:product_stores"),
                               save=lambda data: services.store_save(actor=request.user, data=data))
    return render(request, "sales/store_list.html", {"stores": Store.objects.order_by("code"), "form": form,
                                                     "tab": "stores"})


@require_capability("product.manage")
def store_edit(request, pk: int):
    store = get_object_or_404(Store, pk=pk)
    form = StoreForm(request.POST or None, instance=store)
    return _catalogue_form(request, form, title=str(store), tab="stores", cancel=reverse("sales:product_stores"),
                           saved=_("Store %(name)s saved."), next_url=reverse("sales:product_stores"),
                           save=lambda data: services.store_save(actor=request.user, store=store, data=data))


@require_capability("product.manage")
def category_list(request):
    form = CategoryForm(request.POST or None)
    if request.method == "POST":
        return _catalogue_form(request, form, title=_("New category"), tab="categories",
                               cancel=reverse("sales:product_categories"), saved=_("Category %(name)s saved."),
                               next_url=reverse("sales:product_categories"),
                               save=lambda data: services.category_save(actor=request.user, data=data))
    return render(request, "sales/category_list.html", {"categories": selectors.categories_tree(), "form": form,
                                                        "tab": "categories"})


@require_capability("product.manage")
def category_edit(request, pk: int):
    category = get_object_or_404(ProductCategory, pk=pk)
    form = CategoryForm(request.POST or None, instance=category)
    return _catalogue_form(request, form, title=category.path, tab="categories",
                           cancel=reverse("sales:product_categories"), saved=_("Category %(name)s saved."),
                           next_url=reverse("sales:product_categories"),
                           save=lambda data: services.category_save(actor=request.user, category=category, data=data))


urlpatterns = [
    path("products/", product_list, name="product_list"),
    path("products/new/", product_create, name="product_create"),
    path("products/stores/", store_list, name="product_stores"),
    path("products/stores/<int:pk>/", store_edit, name="product_store_edit"),
    path("products/categories/", category_list, name="product_categories"),
    path("products/categories/<int:pk>/", category_edit, name="product_category_edit"),
    path("products/<str:public_id>/", product_edit, name="product_edit"),
]
