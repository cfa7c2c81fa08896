"""The package's import structure: every import runs down the declared layers, and no cycle.

Parsed from the source (ast), function-level imports included, so the rule cannot silently
regress.  The layers are documented in docs/contributing.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import diffqr

PACKAGE = Path(diffqr.__file__).resolve().parent

# Top to bottom.  A module may import modules of its own layer or of the layers below it.
LAYERS = (
    ("tools", ("diffqr", "diffqr.__main__", "diffqr._check", "diffqr._bench", "diffqr._verify",
               "diffqr._verify_mp")),
    ("public API", ("diffqr._decompositions", "diffqr._explicit_rules", "diffqr._results",
                    "diffqr._tria", "diffqr.distributed")),
    ("dispatch and validation", ("diffqr._dispatch", "diffqr._validate",
                                 "diffqr._validate_lstsq")),
    ("primitives", ("diffqr._primitives",)),
    ("rules", ("diffqr._rules",)),
    ("adapters", ("diffqr._backends.",)),  # every adapter and override module, and base
    ("host helpers", ("diffqr._backends._host",)),
    ("leaves", ("diffqr._errors", "diffqr._tuning", "diffqr._backends")),
)


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["diffqr", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def layer_of(module: str) -> int:
    """Index into LAYERS (0 = top); the most specific (longest) matching prefix wins."""
    best, best_length = None, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix or module.startswith(
                prefix if prefix.endswith(".") else prefix + ".")
            if matches and len(prefix) > best_length:
                best, best_length = index, len(prefix)
    assert best is not None, f"{module} is in no layer: add it to LAYERS and the docs"
    return best


def imports_of(module: str) -> set[str]:
    """The diffqr modules ``module`` imports (anywhere in its source)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module
            names = [f"{target}.{a.name}" if f"{target}.{a.name}" in MODULES else target
                     for a in node.names]
        else:
            continue
        found.update(n for n in names if n in MODULES and n != module)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def test_every_import_runs_down_the_layers():
    upward = [f"{m} ({LAYERS[layer_of(m)][0]}) imports {t} ({LAYERS[layer_of(t)][0]})"
              for m, targets in GRAPH.items() for t in sorted(targets)
              if layer_of(t) < layer_of(m)]
    assert not upward, "imports running up the layers:\n" + "\n".join(upward)


def test_no_import_cycle():
    state: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in GRAPH[module]:
            assert state.get(target) != 1, "import cycle: " + " -> ".join(
                [*path[path.index(target):], target] if target in path else [*path, target])
            if target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in GRAPH:
        if module not in state:
            visit(module, [module])


def test_adapters_import_nothing_above_them():
    """The adapters' own rule, spelled out: no rules, primitives, dispatch or API."""
    forbidden = ("diffqr._rules", "diffqr._primitives", "diffqr._dispatch", "diffqr._validate",
                 "diffqr._decompositions", "diffqr._explicit_rules")
    for module, targets in GRAPH.items():
        if module.startswith("diffqr._backends"):
            bad = [t for t in targets if t.startswith(forbidden) or t == "diffqr"]
            assert not bad, f"{module} imports {bad}"


def test_the_checker_sees_an_upward_import():
    """The checker itself can fail: an adapter importing the primitives is caught."""
    assert layer_of("diffqr._primitives") < layer_of("diffqr._backends.torch")
    assert layer_of("diffqr._backends._host") > layer_of("diffqr._backends.numpy")
    assert "diffqr._backends._host" in GRAPH["diffqr._backends.numpy"]
