"""This app's rows of the permission matrix (tests/test_permission_matrix.py merges them)."""

# url name → capability
WEB: dict[str, str] = {}
# url names the role walk answers with POST
POSTS: set[str] = set()
# "METHOD /path" → (scope, capability)
API: dict[str, tuple[str, str] | None] = {}
# "METHOD /path" → JSON body sent in the role walk
BODIES: dict[str, dict] = {}


def sample_kwargs(name: str, customer, manager) -> dict | None:
    """URL kwargs for one of this app's routes in the role walk (None: not this app's route)."""
    return None
