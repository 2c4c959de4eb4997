"""This app's rows of the permission matrix (tests/test_permission_matrix.py merges them)."""

# url name → capability
WEB: dict[str, str] = {
    "pipeline:board": "opportunity.view",
    "pipeline:board_move": "opportunity.change",
    "pipeline:opportunities": "opportunity.view",
    "pipeline:opportunity_create": "opportunity.change",
    "pipeline:opportunity_detail": "opportunity.view",
    "pipeline:opportunity_edit": "opportunity.change",
    "pipeline:opportunity_won": "opportunity.change",
    "pipeline:opportunity_lost": "opportunity.change",
    "pipeline:contracts": "contract.view",
    "pipeline:contract_create": "contract.change",
    "pipeline:contract_detail": "contract.view",
    "pipeline:contract_edit": "contract.change",
    "pipeline:contract_renew": "contract.change",
    "pipeline:contract_terminate": "contract.change",
    "pipeline:report": "report.sales",
    "pipeline:pipelines": "opportunity.view",
    "pipeline:pipeline_create": "pipeline.manage",
    "pipeline:pipeline_edit": "pipeline.manage",
    "pipeline:stage_create": "pipeline.manage",
    "pipeline:stage_edit": "pipeline.manage",
    "pipeline:stage_move": "pipeline.manage",
    "pipeline:stage_delete": "pipeline.manage",
}
# url names the role walk answers with POST
POSTS: set[str] = {"pipeline:board_move", "pipeline:contract_terminate", "pipeline:stage_create",
                   "pipeline:stage_move", "pipeline:stage_delete"}
NO_SUCH = "0" * 16
# "METHOD /path" → (scope, capability); the pipeline's API stays under /api/sales/
API: dict[str, tuple[str, str] | None] = {
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
    if name in ("pipeline:board_move", "pipeline:opportunity_detail", "pipeline:opportunity_edit",
                "pipeline:opportunity_won", "pipeline:opportunity_lost", "pipeline:contract_detail",
                "pipeline:contract_edit", "pipeline:contract_renew", "pipeline:contract_terminate"):
        return {"public_id": NO_SUCH}  # no such opportunity or contract: 404, not 403
    if name in ("pipeline:pipeline_edit", "pipeline:stage_create", "pipeline:stage_edit", "pipeline:stage_move",
                "pipeline:stage_delete"):
        return {"pk": 999999}  # no such pipeline or stage: 404, not 403
    if name.startswith("pipeline:"):
        return {}
    return None
