"""The layout holds: who may import whom, no import cycles, and no digit left in a signature.

Read from the source (imports and signatures), so a change that breaks the layout fails here
before it is built on. What a running web worker actually imports is checked by
``tests/test_serving.py`` (no TensorFlow, no laboratory, no learning wing after a prediction).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("models", "lab", "service")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def imports_of(name: str, path: Path) -> set[str]:
    """The project modules ``name`` imports anywhere in its code (lazy imports inside functions too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from . import routes`
    known = modules()
    return {m for m in found if m in known and m != name}


GRAPH = {name: imports_of(name, path) for name, path in modules().items()}


def reaches(start: str, prefix: str) -> list[str]:
    """A chain of imports from ``start`` to a module under ``prefix``, or [] if there is none."""
    seen, stack = {start}, [(start, [start])]
    while stack:
        here, chain = stack.pop()
        for there in sorted(GRAPH[here]):
            if there == prefix or there.startswith(prefix + "."):
                return [*chain, there]
            if there not in seen:
                seen.add(there)
                stack.append((there, [*chain, there]))
    return []


def under(prefix: str) -> list[str]:
    return sorted(m for m in GRAPH if m == prefix or m.startswith(prefix + "."))


@pytest.mark.parametrize(("importer", "forbidden", "why"), [
    ("models", "lab", "the laboratory builds on the models, never the other way round"),
    ("models", "service", "the models know nothing of the service"),
    ("service.core", "service.web", "the shared core serves both wings and reaches around neither"),
    ("service.core", "service.learn", "the shared core serves both wings and reaches around neither"),
    ("service.web", "service.learn", "a web worker never learns"),
    ("service.learn", "service.web", "the learner never serves"),
    ("service.web", "lab", "a web worker serves, the laboratory trains"),
    ("service.retrain", "service.web", "the retrain job trains beside the learner, never in a web worker"),
    ("service.retrain", "service.learn", "the retrain job and the learner share only the core"),
    ("service.web", "service.retrain", "a web worker never trains (its image has no TensorFlow)"),
    ("service.learn", "service.retrain", "the retrain job and the learner share only the core"),
    ("service.core", "service.retrain", "the shared core serves every wing and reaches around none"),
])
def test_who_may_import_whom(importer, forbidden, why):
    chains = [chain for m in under(importer) if (chain := reaches(m, forbidden))]
    assert not chains, f"{why}: {' -> '.join(chains[0])}"


def test_no_import_cycles():
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for there in sorted(GRAPH[name]):
            if state.get(there) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path[path.index(there):], there]))
            if there not in state:
                visit(there, [*path, there])
        state[name] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])


# What the digits put in a signature: their class count, MNIST's box, their alphabet's name, their
# ensemble weights, their memory sharpness. Each belongs to the deployment's one Alphabet.
DIGIT_NAMES = {"BOX", "N_CLASSES", "DIGITS", "DEFAULT_WEIGHTS", "SHARPNESS", "COMPLETE_SHARPNESS", "Sharpness"}


def digit_defaults(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        pairs = [*zip(positional[len(positional) - len(args.defaults):], args.defaults),
                 *((a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None)]
        for arg, default in pairs:
            names = {n.id for n in ast.walk(default) if isinstance(n, ast.Name)}
            literal = default.value if isinstance(default, ast.Constant) else None
            if names & DIGIT_NAMES or literal == "digits" or (arg.arg == "n_classes" and literal == 10):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}({arg.arg}={ast.unparse(default)})")
    return found


def test_no_digit_defaults_in_signatures():
    """One Alphabet is built at start and handed to whatever needs its classes, box or weights."""
    served = [p for package in ("models", "service") for p in (ROOT / package).rglob("*.py")]
    assert not [d for p in served for d in digit_defaults(p)]
