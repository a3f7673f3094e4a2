"""The packages' import structure: arrows point one way, no cycle inside ``registry/``, and no
module reaches into another's private names. Read from the source with ``ast``, not by
importing, so that a cycle hidden behind a function-level import is found too."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("methodologies", "gis_data", "registry", "api")
# a package may import only the packages after the arrow
ALLOWED = {
    "methodologies": set(),
    "gis_data": set(),
    "registry": {"methodologies", "gis_data"},
    "api": {"registry", "methodologies", "gis_data"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports() -> dict[str, list[tuple[str, list[str], int]]]:
    """module → [(imported module, imported names, line)], every import statement anywhere."""
    found: dict[str, list[tuple[str, list[str], int]]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            module = _module_name(path)
            entries = found.setdefault(module, [])
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    entries.append((node.module, [a.name for a in node.names], node.lineno))
                elif isinstance(node, ast.Import):
                    entries.extend((a.name, [], node.lineno) for a in node.names)
    return found


def test_arrows_point_one_way() -> None:
    wrong = [
        f"{module}:{line} imports {target}"
        for module, entries in _imports().items()
        for target, _, line in entries
        if (top := target.split(".")[0]) in PACKAGES
        and top != module.split(".")[0]
        and top not in ALLOWED[module.split(".")[0]]
    ]
    assert wrong == []


def test_no_import_cycle_inside_registry() -> None:
    modules = _imports()
    graph: dict[str, set[str]] = {}
    for module, entries in modules.items():
        if not module.startswith("registry"):
            continue
        targets = set()
        for target, names, _ in entries:
            for candidate in (*(f"{target}.{n}" for n in names), target):
                if (
                    candidate in modules
                    and candidate.startswith("registry")
                    and candidate != module
                ):
                    targets.add(candidate)
                    break
        graph[module] = targets
    # a package's __init__ re-exporting its own submodules is not a cycle of behaviour
    for module in graph:
        graph[module] = {t for t in graph[module] if not module.startswith(t + ".")}
    cycles, state = [], dict.fromkeys(graph, 0)

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" → ".join([*path[path.index(nxt) :], nxt]))
            elif state.get(nxt) == 0:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in sorted(graph):
        if state[node] == 0:
            visit(node, [node])
    assert cycles == []


def test_nothing_imports_a_private_name_from_another_module() -> None:
    private = [
        f"{module}:{line} imports {name} from {target}"
        for module, entries in _imports().items()
        for target, names, line in entries
        if target.split(".")[0] in PACKAGES
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert private == []


def test_the_command_line_starts_without_geopandas() -> None:
    import subprocess
    import sys

    code = "import sys, registry.cli; print('geopandas' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_no_command_module_imports_another() -> None:
    """The CLI's command groups share only the context, output, exits and importing modules;
    the root app alone puts them together."""
    commands = {
        f"registry.cli.{m}" for m in ("inventory", "credits", "project", "model", "audit", "demo")
    }
    wrong = [
        f"{module}:{line} imports {target}"
        for module, entries in _imports().items()
        if module.startswith("registry.") and module != "registry.cli.app"
        for target, names, line in entries
        for candidate in (target, *(f"{target}.{n}" for n in names))
        if candidate in commands and candidate != module
    ]
    assert wrong == []
