"""The public surface: private implementation modules, one canonical import path per public name, lazy packages whose
type-checking imports match what they export, py.typed, no import cycles, and the layering.

Static checks on the source (ast), so they cover every module whether or not a test imports it.
"""

import ast
import importlib
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "oboptim"
PUBLIC_MODULES = {"oboptim.cli", "oboptim.errors", "oboptim.__main__"}  # single-module public API
PACKAGES_WITH_EXPORTS = ["oboptim", "oboptim.executors", "oboptim.sampling", "oboptim.priors", "oboptim.surrogates",
                         "oboptim.acquisition",
                         "oboptim.oracles", "oboptim.storage", "oboptim.images", "oboptim.web", "oboptim.benchmark",
                         "oboptim.sequences", "oboptim.testing"]
# The bottom layers never import the layers above them.
LOWER = ("oboptim.storage", "oboptim.priors", "oboptim.sampling", "oboptim.surrogates")
UPPER = ("oboptim._campaign", "oboptim.cli", "oboptim._cli_common", "oboptim.web", "oboptim._proposal",
         "oboptim._report", "oboptim._export")


def module_name(path: Path) -> str:
    if path.is_relative_to(ROOT / "tasks"):
        parts = ("oboptim", "tasks", *path.relative_to(ROOT / "tasks").with_suffix("").parts)
    else:
        parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def library_modules() -> dict[str, Path]:
    paths = [p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts]
    paths += list((ROOT / "tasks").glob("*.py"))
    return {module_name(p): p for p in paths}


def runtime_imports(tree: ast.Module) -> list[ast.ImportFrom | ast.Import]:
    """Every import statement, outside `if TYPE_CHECKING:` blocks (those never run)."""
    found = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append(child)
            visit(child)

    visit(tree)
    return found


def imported_modules(node: ast.Import | ast.ImportFrom, known: set[str]) -> set[str]:
    """The oboptim modules an import statement loads: the module itself and, for `from pkg import sub`, `sub`."""
    names = {alias.name for alias in node.names} if isinstance(node, ast.Import) else {node.module or ""}
    if isinstance(node, ast.ImportFrom) and node.module:
        names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in names if name in known}


def import_graph() -> dict[str, set[str]]:
    modules = library_modules()
    known = set(modules)
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for node in runtime_imports(ast.parse(path.read_text())):
            graph[name] |= imported_modules(node, known) - {name}
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module (the import cycles)."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for vertex in sorted(graph):
        if vertex not in index:
            connect(vertex)
    return components


def test_there_are_no_import_cycles():
    assert strongly_connected(import_graph()) == []


def test_the_bottom_layers_do_not_import_the_top():
    for module, imports in import_graph().items():
        if module.startswith(LOWER):
            upward = sorted(m for m in imports if m.startswith(UPPER))
            assert not upward, f"{module} imports {upward}"


def test_implementation_modules_are_private():
    public = [name for name in library_modules()
              if not any(part.startswith("_") for part in name.split(".")[1:])
              and name not in PUBLIC_MODULES and name not in PACKAGES_WITH_EXPORTS
              and not name.startswith("oboptim.tasks") and name != "oboptim.data"]
    assert public == [], "make these modules private (_name.py) and export their public names from the package"


@pytest.mark.parametrize("package", PACKAGES_WITH_EXPORTS)
def test_a_package_exports_what_its_type_checking_block_imports_and_every_name_resolves(package):
    module = importlib.import_module(package)
    tree = ast.parse(Path(module.__file__).read_text())
    typed: dict[str, list[str]] = defaultdict(list)
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for statement in node.body:
                typed[statement.module] += [alias.name for alias in statement.names]
    assert {m: sorted(n) for m, n in typed.items()} == {m: sorted(n) for m, n in module._EXPORTS.items()}
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"


def test_code_outside_a_package_imports_its_public_names_from_the_package():
    exported = {package: set(importlib.import_module(package).__all__) for package in PACKAGES_WITH_EXPORTS}
    offenders = []
    for folder in ("tasks", "scripts", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith("oboptim."):
                    continue
                package = node.module.rsplit(".", 1)[0] if "._" in node.module else None
                if node.module.startswith("oboptim._"):
                    package = "oboptim"
                names = {alias.name for alias in node.names}
                if package in exported and names & exported[package]:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} from {node.module} import "
                                     f"{sorted(names & exported[package])} (use `from {package} import ...`)")
    assert offenders == []


def test_the_package_is_typed():
    assert (PACKAGE / "py.typed").is_file()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"py.typed"' in pyproject


def test_the_repository_docs_stand_alone():
    """Code, docs and scripts never send a reader to design notes kept outside the repository."""
    outside = re.compile(r"\b(?:DESIGN|REFERENCE|STYLE)\.md\b|\.\./shared/")
    offenders = []
    for folder in ("oboptim", "tasks", "scripts", "tests", "docs"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in {".py", ".md"} and path.name != "test_public_surface.py":
                offenders += [f"{path.relative_to(ROOT)}:{n}" for n, line in enumerate(path.read_text().splitlines(), 1)
                              if outside.search(line)]
    offenders += [f"README.md:{n}" for n, line in enumerate((ROOT / "README.md").read_text().splitlines(), 1)
                  if outside.search(line)]
    assert offenders == []
