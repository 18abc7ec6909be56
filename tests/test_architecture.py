"""House rules of the code base, checked on the source (issue "Architecture").

Each rule is a property a maintainer relies on: modules small enough to read in one
sitting, constructors that take objects rather than long flag lists, TensorFlow
imported only through ``keras_mr._internal.backend``, and no Keras private API.
"""

import ast
import pathlib

import keras_mr

ROOT = pathlib.Path(keras_mr.__file__).parent
SOURCES = sorted(ROOT.rglob("*.py"))
MAX_LINES = 400
MAX_INIT_PARAMETERS = 10


def _tree(path):
    return ast.parse(path.read_text(), filename=str(path))


def test_no_module_over_400_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in SOURCES
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these modules (> {MAX_LINES} lines): {long}"


def test_no_constructor_with_more_than_10_parameters():
    wide = []
    for path in SOURCES:
        for node in ast.walk(_tree(path)):
            if not isinstance(node, ast.ClassDef):
                continue
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    args = item.args
                    count = len(args.posonlyargs) + len(args.args) - 1 + len(args.kwonlyargs)
                    if count > MAX_INIT_PARAMETERS:
                        wide.append(f"{path.relative_to(ROOT)}:{node.name} ({count})")
    assert not wide, f"group parameters into objects: {wide}"


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
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, f"use keras_mr._internal.backend.require_tensorflow: {offenders}"


def test_no_keras_private_api():
    offenders = [
        str(p.relative_to(ROOT)) for p in SOURCES if "keras.src" in p.read_text()
    ]
    assert not offenders, f"keras.src is private API: {offenders}"


def test_every_package_declares_its_public_names():
    missing = [
        str(p.relative_to(ROOT))
        for p in ROOT.rglob("__init__.py")
        if p.parent.name != "_internal" and "__all__" not in p.read_text()
    ]
    assert not missing, f"add __all__ to {missing}"


def test_public_names_resolve():
    for name in keras_mr.__all__:
        assert getattr(keras_mr, name) is not None, name
    assert sorted(set(keras_mr.__all__)) == sorted(keras_mr.__all__)
