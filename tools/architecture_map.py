"""The table in ARCHITECTURE.md from each Python module to the mf_* functions it calls and
the Swift files that implement them, worked out from the source so it cannot drift.

    python tools/architecture_map.py            # print the table
    python tools/architecture_map.py --check    # exit 1 if ARCHITECTURE.md's table differs
"""

from __future__ import annotations

import argparse
import ast
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "bindings" / "python" / "muflow_native"
ABI_SOURCES = ROOT / "Sources" / "muflow"
BEGIN = "<!-- module-map:begin (tools/architecture_map.py writes this table) -->"
END = "<!-- module-map:end -->"

_DEFINITION = re.compile(r"\bfunc (mf_[a-z0-9_]+)\s*\(")


def implementing_files() -> dict[str, str]:
    """Each exported mf_* function and the Sources/muflow file that defines it."""
    found = {}
    for path in sorted(ABI_SOURCES.rglob("*.swift")):
        for name in _DEFINITION.findall(path.read_text(encoding="utf-8")):
            found[name] = path.relative_to(ABI_SOURCES).as_posix()
    return found


def _loaded_names(tree: ast.AST) -> set[str]:
    """Names read in code (`_ffi.x` or a bare `x`), not assigned, not in comments or text."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            names.add(node.id)
    return names


def _ffi_wrappers(tree: ast.Module) -> dict[str, set[str]]:
    """_ffi.py's functions and the mf_* functions each calls."""
    return {node.name: {n for n in _loaded_names(node) if n.startswith("mf_")}
            for node in tree.body if isinstance(node, ast.FunctionDef)}


def module_calls() -> dict[str, list[str]]:
    """Each module of the package and the mf_* functions it calls, directly or through
    one of _ffi.py's helpers (_ffi.py's row: what it calls itself)."""
    wrappers = _ffi_wrappers(ast.parse((PACKAGE / "_ffi.py").read_text(encoding="utf-8")))
    calls = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).as_posix()
        used = _loaded_names(ast.parse(path.read_text(encoding="utf-8")))
        names = {n for n in used if n.startswith("mf_")}
        if module != "_ffi.py":
            names = names.union(*(wrappers[n] for n in used & wrappers.keys()))
        if names:
            calls[module] = sorted(names)
    return calls


def table() -> str:
    defined = implementing_files()
    rows = ["| Python module | mf_* functions it calls | Swift (Sources/muflow/) |", "|---|---|---|"]
    for module, names in module_calls().items():
        unknown = [n for n in names if n not in defined]
        if unknown:
            raise SystemExit(f"{module} names {', '.join(unknown)}, which no Sources/muflow file defines")
        files = sorted({defined[n] for n in names})
        rows.append(f"| `{module}` | {', '.join(f'`{n}`' for n in names)} | {', '.join(f'`{f}`' for f in files)} |")
    return "\n".join(rows)


def documented_table(text: str) -> str:
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"ARCHITECTURE.md has no {BEGIN} ... {END} block")
    return text[start + len(BEGIN):end].strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with ARCHITECTURE.md")
    parser.add_argument("--write", action="store_true", help="rewrite ARCHITECTURE.md's table")
    args = parser.parse_args()
    current = table()
    doc = ROOT / "ARCHITECTURE.md"
    if args.write:
        text = doc.read_text(encoding="utf-8")
        documented_table(text)  # fails when the block is missing
        start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
        doc.write_text(f"{text[:start]}\n{current}\n{text[end:]}", encoding="utf-8")
    elif args.check:
        if documented_table(doc.read_text(encoding="utf-8")) != current:
            print("ARCHITECTURE.md's module table is out of date; run python tools/architecture_map.py --write",
                  file=sys.stderr)
            return 1
    else:
        print(current)
    return 0


if __name__ == "__main__":
    sys.exit(main())
