"""The package's import graph: data flows one way, so no module imports one of a higher layer, and no cycle."""
import ast
from pathlib import Path

import mnistlab

PACKAGE = Path(mnistlab.__file__).parent
# Lowest first. A module may import its own layer and any below it.
LAYERS = [
    {"mnistlab.errors", "mnistlab.version", "mnistlab.config", "mnistlab.atomic", "mnistlab.i18n", "mnistlab.stats",
     "mnistlab.calibration", "mnistlab.names", "mnistlab.registry", "mnistlab.usercode", "mnistlab.model_declarations"},
    {"mnistlab.kernels"},
    {"mnistlab.data"},
    {"mnistlab.models", "mnistlab.selection"},
    {"mnistlab.training"},
    {"mnistlab.runs"},
    {"mnistlab.figures"},
    {"mnistlab.sweeps", "mnistlab.explain"},
    {"mnistlab.report", "mnistlab.machine"},
    {"mnistlab.api"},
    {"mnistlab.cli", "mnistlab", "mnistlab.__main__"},
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    candidates = [(len(unit), i) for i, layer in enumerate(LAYERS) for unit in layer
                  if module == unit or module.startswith(unit + ".")]
    assert candidates, f"{module} belongs to no layer: add it to LAYERS (and docs/architecture.md)"
    return max(candidates)[1]


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mnistlab"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if (PACKAGE.parent / node.module.replace(".", "/")
                                                                        / f"{a.name}.py").exists()}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("mnistlab")}
        if isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import; use absolute `from mnistlab.x import y`")
    return found


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in PACKAGE.rglob("*.py")}


def test_no_import_reaches_up_a_layer():
    upward = [f"{mod} (layer {layer_of(mod)}) imports {imp} (layer {layer_of(imp)})"
              for mod, imps in graph().items() if mod not in ("mnistlab",) for imp in imps
              if layer_of(imp) > layer_of(mod)]
    assert not upward, "\n".join(upward)


def test_no_import_cycle_between_modules():
    edges = graph()
    modules = set(edges)
    resolved = {m: {i for i in imps if i in modules and i != m} for m, imps in edges.items()}
    visiting, done, cycles = set(), set(), []

    def visit(m, path):
        if m in done:
            return
        if m in visiting:
            cycles.append(" -> ".join(path[path.index(m):] + [m]))
            return
        visiting.add(m)
        for n in resolved[m]:
            if m != "mnistlab" and n != "mnistlab":
                visit(n, path + [m])
        visiting.discard(m)
        done.add(m)

    for m in sorted(modules):
        visit(m, [])
    assert not cycles, cycles


def test_modules_stay_small():
    big = [f"{p.relative_to(PACKAGE)}: {n} lines" for p in PACKAGE.rglob("*.py")
           if (n := len(p.read_text().splitlines())) > 320]
    assert not big, big


def test_the_notebook_models_are_named_only_where_they_are_declared():
    allowed = {"models/notebook.py", "models/registry.py", "model_declarations.py", "config.py", "__init__.py"}
    offenders = []
    for p in PACKAGE.rglob("*.py"):
        rel = p.relative_to(PACKAGE).as_posix()
        if rel in allowed:
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Constant) and node.value in ("mlp", "cnn"):
                offenders.append(f"{rel}:{node.lineno}")
    assert not offenders, offenders
