"""This app's rows of the permission matrix (tests/test_permission_matrix.py merges them)."""

# url name → capability
WEB: dict[str, str] = {
    "feedback:touchpoints": "touchpoint.view",
    "feedback:touchpoint_create": "touchpoint.manage",
    "feedback:touchpoint_edit": "touchpoint.manage",
    "feedback:touchpoint_deactivate": "touchpoint.manage",
    "feedback:touchpoint_reactivate": "touchpoint.manage",
    "feedback:touchpoint_move": "touchpoint.manage",
}
# url names the role walk answers with POST
POSTS: set[str] = {"feedback:touchpoint_deactivate", "feedback:touchpoint_reactivate", "feedback:touchpoint_move"}
# "METHOD /path" → (scope, capability)
API: dict[str, tuple[str, str] | None] = {
    "GET /feedback/touchpoints": ("feedback:read", "touchpoint.view"),
    "POST /feedback/touchpoints": ("feedback:write", "touchpoint.manage"),
    "PATCH /feedback/touchpoints/{public_id}": ("feedback:write", "touchpoint.manage"),
}
# "METHOD /path" → JSON body sent in the role walk
BODIES: dict[str, dict] = {
    "POST /feedback/touchpoints": {"name": "矩阵接触点", "stage": "purchase", "owner_team": "收银组"},
    "PATCH /feedback/touchpoints/{public_id}": {"owner_team": "客服中心"},
}

NO_SUCH = "0" * 16


def sample_kwargs(name: str, customer, manager) -> dict | None:
    """URL kwargs for one of this app's routes in the role walk (None: not this app's route)."""
    if name in ("feedback:touchpoints", "feedback:touchpoint_create"):
        return {}
    if name.startswith("feedback:"):
        return {"public_id": NO_SUCH}  # no such touchpoint: 404 for those allowed, 403 for the others
    return None
