"""House rules of the code base, checked on the source (issue "Architecture").

Each rule is a property a maintainer relies on: Keras' private state is reached
only from ``keras_mr/_internal/keras_compat.py`` (so a Keras release that changes
it breaks one module, whose tests say what changed), the modules import each
other without cycles, TensorFlow is imported only through
``keras_mr._internal.backend``, and the public API is declared and documented.
"""

import ast
import pathlib

import keras_mr

ROOT = pathlib.Path(keras_mr.__file__).parent
SOURCES = sorted(ROOT.rglob("*.py"))
KERAS_COMPAT = ROOT / "_internal" / "keras_compat.py"

# Underscore names that are public API of Python itself, not private state:
# ``collections.namedtuple``'s documented methods and attributes.
PUBLIC_UNDERSCORE_NAMES = {"_asdict", "_field_defaults", "_fields", "_make", "_replace"}
ATTRIBUTE_FUNCTIONS = {"getattr", "setattr", "hasattr", "delattr"}


def _tree(path):
    return ast.parse(path.read_text(), filename=str(path))


def _relative(path):
    return str(path.relative_to(ROOT))


def _is_dunder(name):
    return name.startswith("__") and name.endswith("__")


def _is_private(name):
    return name.startswith("_") and not _is_dunder(name) and name not in PUBLIC_UNDERSCORE_NAMES


def _is_self(node):
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


def private_accesses(tree):
    """``(line, description)`` of every reach into another object's private state.

    Counted: ``obj._name`` where ``obj`` is not ``self``/``cls``; ``getattr``,
    ``setattr``, ``hasattr`` or ``delattr`` with a literal ``"_name"`` on such an
    object; any use of ``__dict__``.  Dunders (``__name__``, ``__class__``) and the
    namedtuple API (``_replace``, ``_fields``) are public.
    """
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if node.attr == "__dict__":
                found.append((node.lineno, f"{ast.unparse(node)}"))
            elif _is_private(node.attr) and not _is_self(node.value):
                found.append((node.lineno, f"{ast.unparse(node)}"))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ATTRIBUTE_FUNCTIONS
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and not _is_self(node.args[0])
        ):
            name = node.args[1].value
            if _is_private(name) or name == "__dict__":
                found.append((node.lineno, f"{node.func.id}(..., {name!r})"))
    return found


def test_private_access_scan_finds_what_it_looks_for():
    source = (
        "model._compile_loss\n"
        "getattr(model, '_tracker', None)\n"
        "setattr(model, '_x', 1)\n"
        "loss.__dict__\n"
        "self._ok\n"
        "getattr(self, '_ok')\n"
        "point._replace(x=1)\n"
        "f.__name__\n"
        "getattr(f, '__name__')\n"
    )
    lines = [line for line, _ in private_accesses(ast.parse(source))]
    assert lines == [1, 2, 3, 4]


def test_keras_private_state_only_in_the_compat_module():
    offenders = [
        f"{_relative(path)}:{line}: {what}"
        for path in SOURCES
        if path != KERAS_COMPAT
        for line, what in private_accesses(_tree(path))
    ]
    assert not offenders, (
        "private attributes reached from outside keras_mr/_internal/keras_compat.py "
        "(a Keras internal: wrap it there with a test; keras-mr's own object: give it a "
        f"public method): {offenders}"
    )


def test_no_keras_private_api():
    offenders = [_relative(p) for p in SOURCES if "keras.src" in p.read_text()]
    assert not offenders, f"keras.src is private API: {offenders}"


def _module_name(path):
    parts = ("keras_mr", *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in SOURCES}


def _imported_modules(name, path):
    """keras_mr modules ``name`` imports, at module level or inside functions."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in MODULES else base)
    return {t for t in targets if t in MODULES and t != name}


def _find_cycle(graph):
    """One cycle of ``graph`` as a list of nodes (first == last), or ``None``."""
    state = {}  # node -> "open" while on the DFS stack, "done" after
    stack = []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return stack[stack.index(target) :] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_cycle_finder_reports_a_cycle():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_import_cycles():
    graph = {name: _imported_modules(name, path) for name, path in MODULES.items()}
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle (deferred imports count): " + " -> ".join(cycle)


def test_tensorflow_is_imported_only_through_the_backend_helper():
    offenders = []
    for path in SOURCES:
        if path.relative_to(ROOT).parts[0] == "_internal":
            continue
        for node in ast.walk(_tree(path)):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name.split(".")[0] == "tensorflow" for name in names):
                offenders.append(f"{_relative(path)}:{node.lineno}")
    assert not offenders, f"use keras_mr._internal.backend.require_tensorflow: {offenders}"


def test_every_package_declares_its_public_names():
    missing = [
        _relative(p)
        for p in ROOT.rglob("__init__.py")
        if p.parent.name != "_internal" and "__all__" not in p.read_text()
    ]
    assert not missing, f"add __all__ to {missing}"


def test_public_names_resolve():
    for name in keras_mr.__all__:
        assert getattr(keras_mr, name) is not None, name
    assert sorted(set(keras_mr.__all__)) == sorted(keras_mr.__all__)


def test_public_names_are_documented():
    # ``__doc__`` itself: ``inspect.getdoc`` would accept a class inheriting its docstring
    undocumented = [
        name for name in keras_mr.__all__ if not (getattr(keras_mr, name).__doc__ or "").strip()
    ]
    assert not undocumented, f"add a docstring to {undocumented}"
