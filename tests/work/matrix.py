"""This app's rows of the permission matrix (tests/test_permission_matrix.py merges them)."""

# url name → capability
WEB: dict[str, str] = {
    "work:tasks": "task.view",
    "work:task_create": "task.change",
    "work:task_detail": "task.view",
    "work:task_edit": "task.change",
    "work:task_complete": "task.change",
    "work:task_reopen": "task.change",
    "work:task_cancel": "task.change",
    "work:task_snooze": "task.change",
    "work:customer_options": "task.change",
    "work:interaction_log": "task.change",
    # Everyone who works on tasks sees the rules; only managers set them up.
    "work:rules": "task.change",
    "work:rule_create": "task.rules",
    "work:rule_edit": "task.rules",
}
# url names the role walk answers with POST
POSTS: set[str] = {"work:task_complete", "work:task_reopen", "work:task_cancel", "work:task_snooze"}
# "METHOD /path" → (scope, capability)
API: dict[str, tuple[str, str] | None] = {
    "GET /work/tasks": ("work:read", "task.view"),
    "POST /work/tasks": ("work:write", "task.change"),
    "GET /work/tasks/{public_id}": ("work:read", "task.view"),
    "PATCH /work/tasks/{public_id}": ("work:write", "task.change"),
    "POST /work/tasks/{public_id}/complete": ("work:write", "task.change"),
}
# "METHOD /path" → JSON body sent in the role walk
BODIES: dict[str, dict] = {
    "POST /work/tasks": {"title": "矩阵回访", "due_at": "2030-01-02T10:00:00+08:00"},
    "PATCH /work/tasks/{public_id}": {"title": "矩阵"},
}

NO_SUCH = "0" * 16


def sample_kwargs(name: str, customer, manager) -> dict | None:
    """URL kwargs for one of this app's routes in the role walk (None: not this app's route)."""
    if name in ("work:tasks", "work:task_create", "work:customer_options", "work:rules", "work:rule_create"):
        return {}
    if name.startswith("work:"):
        return {"public_id": NO_SUCH}  # no such task or rule: 404 for those allowed, 403 for the others
    return None
