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
    "sales:order_customer_panel": "order.view",
    "sales:order_detail": "order.view",
    "sales:order_refund": "order.refund",
    "sales:import_start": "order.import",
    "sales:import_detail": "order.import",
    "sales:pipeline": "opportunity.view",
    "sales:pipeline_move": "opportunity.change",
    "sales:opportunities": "opportunity.view",
    "sales:opportunity_create": "opportunity.change",
    "sales:opportunity_customer_panel": "customer.view",
    "sales:opportunity_detail": "opportunity.view",
    "sales:opportunity_edit": "opportunity.change",
    "sales:opportunity_won": "opportunity.change",
    "sales:opportunity_lost": "opportunity.change",
    "sales:contracts": "contract.view",
    "sales:contract_create": "contract.change",
    "sales:contract_detail": "contract.view",
    "sales:contract_edit": "contract.change",
    "sales:contract_renew": "contract.change",
    "sales:contract_terminate": "contract.change",
    "sales:report_pipeline": "report.sales",
    "sales:pipelines": "opportunity.view",
    "sales:pipeline_create": "pipeline.manage",
    "sales:pipeline_edit": "pipeline.manage",
    "sales:stage_create": "pipeline.manage",
    "sales:stage_edit": "pipeline.manage",
    "sales:stage_move": "pipeline.manage",
    "sales:stage_delete": "pipeline.manage",
}
# url names the role walk answers with POST
POSTS: set[str] = {"sales:pipeline_move", "sales:contract_terminate", "sales:stage_create", "sales:stage_move",
                   "sales:stage_delete"}
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
    "GET /sales/opportunities": ("sales:read", "opportunity.view"),
    "POST /sales/opportunities": ("sales:write", "opportunity.change"),
    "GET /sales/opportunities/{public_id}": ("sales:read", "opportunity.view"),
    "PATCH /sales/opportunities/{public_id}": ("sales:write", "opportunity.change"),
    "POST /sales/opportunities/{public_id}/move": ("sales:write", "opportunity.change"),
    "GET /sales/contracts": ("sales:read", "contract.view"),
    "POST /sales/contracts": ("sales:write", "contract.change"),
    "GET /sales/contracts/{public_id}": ("sales:read", "contract.view"),
    "POST /sales/contracts/{public_id}/renew": ("sales:write", "contract.change"),
    "POST /sales/contracts/{public_id}/terminate": ("sales:write", "contract.change"),
    "GET /sales/pipelines": ("sales:read", "opportunity.view"),
    "POST /sales/pipelines": ("sales:write", "pipeline.manage"),
    "PATCH /sales/pipelines/{pipeline_id}": ("sales:write", "pipeline.manage"),
    "POST /sales/pipelines/{pipeline_id}/stages": ("sales:write", "pipeline.manage"),
    "PATCH /sales/stages/{stage_id}": ("sales:write", "pipeline.manage"),
    "DELETE /sales/stages/{stage_id}": ("sales:write", "pipeline.manage"),
}
# "METHOD /path" → JSON body sent in the role walk
BODIES: dict[str, dict] = {
    "POST /sales/products": {"sku": "MX-1", "name": "矩阵", "category": "无此类目", "list_price": "1"},
    "POST /sales/orders": {"customer_number": "NO-SUCH", "store": "1F-01", "lines": [{"sku": "X", "quantity": 1}]},
    "POST /sales/orders/{number}/refunds": {"amount": "1", "reason": "矩阵"},
    "POST /sales/opportunities": {"customer_number": "NO-SUCH", "title": "矩阵"},
    "PATCH /sales/opportunities/{public_id}": {"title": "矩阵"},
    "POST /sales/opportunities/{public_id}/move": {"stage": "需求确认"},
    "POST /sales/contracts": {"customer_number": "NO-SUCH", "number": "HT-M", "amount": "1",
                              "start_date": "2026-01-01", "end_date": "2026-12-31"},
    "POST /sales/contracts/{public_id}/renew": {"number": "HT-M2"},
    "POST /sales/contracts/{public_id}/terminate": {"reason": "矩阵"},
    "POST /sales/pipelines": {"name": "矩阵流程"},
    "PATCH /sales/pipelines/{pipeline_id}": {"name": "矩阵流程"},
    "POST /sales/pipelines/{pipeline_id}/stages": {"name": "矩阵阶段", "probability": 10},
    "PATCH /sales/stages/{stage_id}": {"name": "矩阵阶段"},
}


def sample_kwargs(name: str, customer, manager) -> dict | None:
    """URL kwargs for one of this app's routes in the role walk (None: not this app's route)."""
    if name in ("sales:pipeline_move", "sales:opportunity_detail", "sales:opportunity_edit", "sales:opportunity_won",
                "sales:opportunity_lost", "sales:contract_detail", "sales:contract_edit", "sales:contract_renew",
                "sales:contract_terminate"):
        return {"public_id": NO_SUCH}  # no such opportunity or contract: 404, not 403
    if name in ("sales:pipeline_edit", "sales:stage_create", "sales:stage_edit", "sales:stage_move",
                "sales:stage_delete"):
        return {"pk": 999999}  # no such pipeline or stage: 404, not 403
    if name == "sales:opportunity_customer_panel":
        return {"public_id": customer.public_id}
    if name in ("sales:product_edit", "sales:order_detail", "sales:order_refund", "sales:import_detail"):
        return {"public_id": NO_SUCH}  # no such product, order or import: 404, not 403
    if name in ("sales:product_store_edit", "sales:product_category_edit"):
        return {"pk": 999999}
    if name == "sales:order_customer_panel":
        return {"public_id": customer.public_id}
    if name.startswith("sales:"):
        return {}
    return None
