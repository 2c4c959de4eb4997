"""The loyalty app's modules import one another without a cycle, and none imports another's private names."""

import ast
from pathlib import Path

import fidelis.loyalty

APP = Path(fidelis.loyalty.__file__).parent


def _imports() -> dict[str, set[tuple[str, tuple[str, ...]]]]:
    """Return, per module of the app, the app's modules it imports (anywhere in it) with the names it takes."""
    found: dict[str, set] = {}
    for path in APP.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        module = ".".join(("fidelis", "loyalty", *path.relative_to(APP).with_suffix("").parts))
        module = module.removesuffix(".__init__")
        found[module] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fidelis.loyalty"):
                names = tuple(alias.name for alias in node.names)
                if node.module == "fidelis.loyalty":  # from fidelis.loyalty import ledger
                    for name in names:
                        found[module].add((f"fidelis.loyalty.{name}", ()))
                else:
                    found[module].add((node.module, names))
    return found


def test_no_module_of_the_app_imports_another_in_a_cycle():
    graph = {module: {target for target, _names in targets} for module, targets in _imports().items()}
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            assert state.get(target) != "open", " → ".join([*path, target])
            if target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_no_module_takes_a_private_name_of_another():
    taken = [(module, target, name) for module, targets in _imports().items() for target, names in targets
             for name in names if name.startswith("_") and target != module]
    assert taken == []
