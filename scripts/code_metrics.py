"""Size, complexity and import-map figures for the package, to compare a refactor's before and after.

    python scripts/code_metrics.py [--src src/napari_c2w] [--dot imports.dot] [--json out.json]

Prints: modules and lines; modules over 300 and 400 lines; functions over 50 and 80 lines and the
longest; functions whose McCabe complexity is over ``--max-complexity`` (8; ``ruff --select
C901``); the package-level import map (which subpackage imports which, module-level and
deferred imports alike), its cycles and its upward arrows (a lower layer importing a higher
one, by the layer order below); and ``--dot`` writes that map for Graphviz. Pure ``ast``:
nothing is imported or run.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

#: Lower layers first: a package may import those before it, not those after it.
LAYERS = [
    "errors", "labels", "_fs", "_env", "_preferences", "noise", "standardize", "preprocess", "io",
    "masks", "metrics", "stages", "models", "phantom", "quantify", "review", "surface", "infer",
    "correct", "train", "adapt", "layers", "cli", "_session", "_reader", "_writer", "_sample_data",
    "widgets",
]  # fmt: skip


def _package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _module_name(path: Path, src: Path) -> str:
    rel = path.relative_to(src.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, module: str, is_pkg: bool) -> str | None:
    if node.level == 0:
        return node.module
    base = module.split(".")
    base = base if is_pkg else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def scan(src: Path) -> dict:
    top = src.name
    functions, lines, edges = [], {}, defaultdict(set)
    for path in sorted(src.rglob("*.py")):
        text = path.read_text()
        module = _module_name(path, src)
        lines[module] = len(text.splitlines())
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions.append((node.end_lineno - node.lineno + 1, f"{module}.{node.name}"))
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(node, module, path.name == "__init__.py")
                targets = [target] if target else []
            for target in targets:
                if target and target.split(".")[0] == top:
                    a, b = _package_of(module), _package_of(target)
                    if b not in (a, "__init__"):
                        edges[a].add(b)
    return {"functions": functions, "lines": lines, "edges": edges}


def cycles(edges: dict) -> list[list[str]]:  # noqa: C901 (Tarjan in one piece)
    """Strongly connected components with more than one package (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(edges):
        if v not in index:
            visit(v)
    return out


def complexity(src: Path, limit: int) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", str(src), "--select", "C901", "--output-format",
         "concise", "--config", f"lint.mccabe.max-complexity = {limit}", "--no-cache", "--quiet"],
        check=False, capture_output=True, text=True,
    )  # fmt: skip
    return [line for line in result.stdout.splitlines() if "C901" in line]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_src = Path(__file__).resolve().parents[1] / "src" / "napari_c2w"
    parser.add_argument("--src", type=Path, default=default_src)
    parser.add_argument("--dot", type=Path)
    parser.add_argument("--max-complexity", type=int, default=8)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    data = scan(args.src)
    fn = sorted(data["functions"], reverse=True)
    lines = data["lines"]
    order = {name: i for i, name in enumerate(LAYERS)}
    upward = sorted(
        f"{a} -> {b}" for a, bs in data["edges"].items() for b in bs
        if a in order and b in order and order[b] > order[a]
    )  # fmt: skip
    c901 = complexity(args.src, args.max_complexity)
    summary = {
        "modules": len(lines),
        "lines": sum(lines.values()),
        "modules_over_300": sorted((n, m) for m, n in lines.items() if n > 300)[::-1],
        "modules_over_400": sorted((n, m) for m, n in lines.items() if n > 400)[::-1],
        "functions": len(fn),
        "functions_over_50": sum(n > 50 for n, _ in fn),
        "functions_over_80": sum(n > 80 for n, _ in fn),
        "longest_functions": fn[:8],
        f"complexity_over_{args.max_complexity}": len(c901),
        "complexity_rows": [line.replace(str(args.src.parent) + "/", "") for line in c901],
        "packages": len({p for p in data["edges"]} | {b for bs in data["edges"].values() for b in bs}),
        "import_arrows": sum(len(b) for b in data["edges"].values()),
        "cycles": cycles(data["edges"]),
        "upward_arrows": upward,
    }
    for key, value in summary.items():
        if isinstance(value, list) and value and key != "cycles":
            print(f"{key}: {len(value)}")
            for item in value:
                print(f"    {item}")
        else:
            print(f"{key}: {value}")
    if args.dot:
        rows = [f'  "{a}" -> "{b}";' for a in sorted(data["edges"]) for b in sorted(data["edges"][a])]
        args.dot.write_text("digraph imports {\n  rankdir=LR;\n" + "\n".join(rows) + "\n}\n")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1, default=list))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
