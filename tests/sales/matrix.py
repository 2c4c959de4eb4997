"""This app's rows of the permission matrix (tests/test_permission_matrix.py merges them)."""

# url name → capability
WEB: dict[str, str] = {
    "sales:report_sales": "report.sales",
    "sales:product_list": "product.manage",
    "sales:product_create": "product.manage",
    "sales:product_edit": "product.manage",
    "sales:product_stores": "product.manage",
    "sales:product_store_edit": "product.manage",
    "sales:product_categories": "product.manage",
    "sales:product_category_edit": "product.manage",
    "sales:orders": "order.view",
    "sales:order_create": "order.add",
    "sales:order_line": "order.add",
    "sales:order_customers": "order.add",
    "sales:order_detail": "order.view",
    "sales:order_refund": "order.refund",
    "sales:import_start": "order.import",
    "sales:import_detail": "order.import",
}
# url names the role walk answers with POST
POSTS: set[str] = set()
NO_SUCH = "0" * 16
# "METHOD /path" → (scope, capability)
API: dict[str, tuple[str, str] | None] = {
    "GET /sales/stores": ("sales:read", "order.view"),
    "GET /sales/products": ("sales:read", "order.view"),
    "POST /sales/products": ("sales:write", "product.manage"),
    "GET /sales/orders": ("sales:read", "order.view"),
    "POST /sales/orders": ("sales:write", "order.add"),
    "GET /sales/orders/{number}": ("sales:read", "order.view"),
    "POST /sales/orders/{number}/refunds": ("sales:write", "order.refund"),
}
# "METHOD /path" → JSON body sent in the role walk
BODIES: dict[str, dict] = {
    "POST /sales/products": {"sku": "MX-1", "name": "矩阵", "category": "无此类目", "list_price": "1"},
    "POST /sales/orders": {"customer_number": "NO-SUCH", "store": "1F-01", "lines": [{"sku": "X", "quantity": 1}]},
    "POST /sales/orders/{number}/refunds": {"amount": "1", "reason": "矩阵"},
}


def sample_kwargs(name: str, customer, manager) -> dict | None:
    """URL kwargs for one of this app's routes in the role walk (None: not this app's route)."""
    if name in ("sales:product_edit", "sales:order_detail", "sales:order_refund", "sales:import_detail"):
        return {"public_id": NO_SUCH}  # no such product, order or import: 404, not 403
    if name in ("sales:product_store_edit", "sales:product_category_edit"):
        return {"pk": 999999}
    if name.startswith("sales:"):
        return {}
    return None
