"""The layout of neurojax.analysis: no import cycles between its modules (counting imports
inside functions), and Newton's method and cycle detection each written once."""

import ast
import pathlib

import neurojax.analysis as na

PACKAGE = "neurojax.analysis"
ROOT = pathlib.Path(na.__file__).parent


def _module_name(path: pathlib.Path) -> str:
    return PACKAGE if path.stem == "__init__" else f"{PACKAGE}.{path.stem}"


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The absolute module names a `from ... import ...` refers to (`from . import x`
    names the submodule `x` when it is one)."""
    if node.level == 0:
        base = node.module or ""
    else:
        parts = module.split(".")
        parts = parts if is_package else parts[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    targets = [base]
    for alias in node.names:
        targets.append(f"{base}.{alias.name}")  # a submodule imported by name
    return targets


def import_graph() -> dict[str, set[str]]:
    """Module → the analysis modules it imports, from every `import` statement anywhere in
    its source (module level or inside functions and methods)."""
    files = sorted(ROOT.glob("*.py"))
    modules = {_module_name(f) for f in files}
    graph: dict[str, set[str]] = {}
    for f in files:
        name = _module_name(f)
        edges = set()
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                targets = _resolve(node, name, f.stem == "__init__")
            else:
                continue
            edges |= {t for t in targets if t in modules and t != name}
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as a path `[a, b, ..., a]`, or `None` (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(u):
        state[u] = 1
        stack.append(u)
        for v in sorted(graph[u]):
            if state.get(v) == 1:
                return stack[stack.index(v) :] + [v]
            if v not in state:
                found = visit(v)
                if found:
                    return found
        stack.pop()
        state[u] = 2
        return None

    for u in sorted(graph):
        if u not in state:
            found = visit(u)
            if found:
                return found
    return None


def test_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_analysis_modules_import_no_cycle():
    graph = import_graph()
    # the graph is really built: the modules are there and see their imports
    assert f"{PACKAGE}._system" in graph and f"{PACKAGE}._newton" in graph
    assert f"{PACKAGE}._system" in graph[f"{PACKAGE}._fixed_points"]
    assert f"{PACKAGE}._fixed_points" in graph[f"{PACKAGE}._continuation"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
    # the lowest layers import no other analysis module, the plots no data class
    assert graph[f"{PACKAGE}._system"] == set()
    assert graph[f"{PACKAGE}._plot"] == set()


def _sources() -> dict[str, str]:
    return {f.stem: f.read_text() for f in ROOT.glob("*.py")}


def test_newton_and_cycle_detection_are_written_once():
    src = _sources()
    # Newton iterations: the package's one root finder (`neurojax/_newton.py`, `root`);
    # the analysis modules call it and loop no Newton of their own. (`fori_loop` is allowed
    # elsewhere: the periodic orbits integrate over their mesh with it.)
    for name in ("while_loop(", "optx.", "linalg.solve(jax.jacfwd", "jacfwd(both"):
        assert [m for m, s in src.items() if name in s] == [], name
    assert "from .._newton import root" in src["_newton"]
    package_root = (ROOT.parent / "_newton.py").read_text()
    assert "def root(" in package_root and "jacfwd(both" in package_root
    # every equilibrium solve goes through `_newton.solve_rows` (one compiled program around
    # `root`), the shooting corrector calls `root` itself
    assert "root(" in src["_newton"] and "root(" in src["_periodic"]
    for module in ("_bifurcation", "_continuation", "_fixed_points"):
        assert "solve_rows(" in src[module] or "newton_batch(" in src[module], module
    assert "slaved(" in src["_phase_plane"]
    # cycle detection: one function, used by the cycle sweeps and the phase planes
    assert [m for m, s in src.items() if "def detect_cycle" in s] == ["_cycles"]
    assert [m for m, s in src.items() if "(v[:-1] < level)" in s] == ["_cycles"]
    assert "detect_cycle" in src["_phase_plane"]
