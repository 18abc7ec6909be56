"""Checks that the API reference lists every public name of ``keras_mr``.

The public names are what ``import keras_mr`` exports: ``keras_mr.__all__``
when the package defines it, otherwise every name bound by an import or an
assignment in ``keras_mr/__init__.py`` (without a leading underscore).

Usage (after ``mkdocs build``)::

    python docs/check_api.py            # checks docs/*.md and, if built, site/api/index.html
    python docs/check_api.py --site site

``tests/test_docs_api.py`` runs the Markdown check with the test suite; CI
runs this script on the built site after ``mkdocs build --strict``.
"""

import argparse
import ast
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
INIT = ROOT / "keras_mr" / "__init__.py"


def public_names(init_path=INIT):
    """Public names of ``keras_mr`` read from its ``__init__.py`` (no import needed)."""
    tree = ast.parse(pathlib.Path(init_path).read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id == "__all__":
                    return set(ast.literal_eval(node.value))
                if isinstance(target, ast.Name):
                    names.add(target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add(alias.asname or alias.name.split(".")[0])
    return {n for n in names if not n.startswith("_")}


def names_in_markdown(docs_dir=DOCS):
    """Names ``X`` with a ``::: keras_mr.X`` directive in any page of ``docs_dir``."""
    found = set()
    for page in pathlib.Path(docs_dir).rglob("*.md"):
        found.update(
            re.findall(
                r"^:::\s+keras_mr\.([A-Za-z_][A-Za-z0-9_]*)\s*$",
                page.read_text(),
                flags=re.MULTILINE,
            )
        )
    return found


def names_in_site(site_dir):
    """Names ``X`` with an ``id="keras_mr.X"`` heading in the built API page(s)."""
    found = set()
    for page in pathlib.Path(site_dir).glob("api*/**/index.html"):
        found.update(re.findall(r'id="keras_mr\.([A-Za-z_][A-Za-z0-9_]*)"', page.read_text()))
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--site",
        default=str(ROOT / "site"),
        help="built site folder (checked when it holds an API page)",
    )
    args = parser.parse_args(argv)
    names = public_names()
    ok = True
    missing = sorted(names - names_in_markdown())
    if missing:
        ok = False
        print(f"docs/*.md: no '::: keras_mr.X' entry for {missing}")
    api_pages = list(pathlib.Path(args.site).glob("api*/**/index.html"))
    if api_pages:
        missing = sorted(names - names_in_site(args.site))
        if missing:
            ok = False
            print(f"{args.site}: the API page does not show {missing}")
    print(
        f"{len(names)} public names of keras_mr; "
        f"{'all listed' if ok else 'some missing'} (Markdown"
        f"{' + built site' if api_pages else ''})."
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
