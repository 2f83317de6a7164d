"""Structure figures of a checkout: package cycles, module import cycles, long files and functions.

    python scripts/structure_report.py [ROOT]   # ROOT defaults to this checkout

Package references are read the way tests/test_architecture.py reads them (imports, string model
labels, get_model, import_module, migration dependencies), so a cycle here is a pair of packages
that refer to each other by any of those means. Module cycles count imports anywhere in a module,
function-local ones included. Migrations are left out of the size figures.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import networkx as nx  # a dependency of scikit-image

REPO = Path(__file__).resolve().parents[1]
LONG_FILE_LINES = 300
LONG_FUNCTION_LINES = 60


def _architecture() -> ModuleType:
    """tests/test_architecture.py, loaded by path: its reading of references is the one used."""
    path = REPO / "tests/test_architecture.py"
    spec = importlib.util.spec_from_file_location("architecture", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _module_name(relative: Path) -> str:
    parts = list(relative.with_suffix("").parts)
    if parts[0] == "platform":
        parts = parts[1:]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def report(root: Path) -> dict[str, list[str]]:
    architecture = _architecture()
    packages: nx.DiGraph = nx.DiGraph()
    modules: nx.DiGraph = nx.DiGraph()
    sources = {}
    for path in sorted(p for base in ("platform", "detection", "factcheck", "frontend")
                       for p in (root / base).rglob("*.py")):  # fmt: skip
        relative = path.relative_to(root)
        if architecture.unit_of_path(relative.as_posix()) is not None:
            sources[_module_name(relative)] = (relative, ast.parse(path.read_text()))
    long_files, long_functions = [], []
    for name, (relative, tree) in sources.items():
        unit = architecture.unit_of_path(relative.as_posix())
        for _, target, _ in architecture.references(tree):
            if target != unit:
                packages.add_edge(unit, target)
        for node in ast.walk(tree):
            imported = []
            if isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for target in imported:
                if target in sources and target != name:
                    modules.add_edge(name, target)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno:
                length = node.end_lineno - node.lineno + 1
                if length > LONG_FUNCTION_LINES and "migrations" not in relative.parts:
                    long_functions.append(f"{length} {relative}:{node.name}")
        lines = len((root / relative).read_text().splitlines())
        if lines > LONG_FILE_LINES and "migrations" not in relative.parts:
            long_files.append(f"{lines} {relative}")
    by_length = lambda rows: sorted(rows, key=lambda row: -int(row.split()[0]))  # noqa: E731
    return {
        "package cycles": [" -> ".join(cycle) for cycle in nx.simple_cycles(packages)],
        "module import cycles": [" -> ".join(cycle) for cycle in nx.simple_cycles(modules)],
        f"files over {LONG_FILE_LINES} lines": by_length(long_files),
        f"functions over {LONG_FUNCTION_LINES} lines": by_length(long_functions),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", type=Path, default=REPO)
    args = parser.parse_args()
    if not (args.root / "platform").is_dir():
        sys.exit(f"error: {args.root} is not a Provenant checkout (no platform/)")
    for title, rows in report(args.root.resolve()).items():
        print(f"{title}: {len(rows)}")
        for row in rows:
            print(f"  {row}")


if __name__ == "__main__":
    main()
