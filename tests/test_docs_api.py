"""The documentation site: API page completeness and figure references (fast, no build)."""

import importlib.util
import inspect
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _check_api():
    spec = importlib.util.spec_from_file_location("check_api", DOCS / "check_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_page_lists_every_public_name():
    check = _check_api()
    names = check.public_names()
    assert "MRSampleWeighter" in names and "noise" in names
    missing = sorted(names - check.names_in_markdown())
    assert not missing, f"add '::: keras_mr.X' entries to docs/api.md for {missing}"


def test_public_names_cover_the_imported_package():
    import keras_mr

    declared = _check_api().public_names()
    # every public non-module attribute of the package (modules may be implicit submodule imports)
    attrs = {n for n, v in vars(keras_mr).items()
             if not n.startswith("_") and not inspect.ismodule(v)}
    assert attrs <= declared, sorted(attrs - declared)


def test_figures_exist_and_are_referenced():
    pages = "\n".join(p.read_text() for p in DOCS.rglob("*.md"))
    referenced = set(re.findall(r"\]\((figures/[^)\s]+\.png)\)", pages))
    on_disk = {p.relative_to(DOCS).as_posix() for p in (DOCS / "figures").glob("*.png")}
    assert referenced, "no figure referenced in docs/*.md"
    assert referenced <= on_disk, f"missing figures: {sorted(referenced - on_disk)}"
    assert on_disk <= referenced, f"unreferenced figures: {sorted(on_disk - referenced)}"
    for name in on_disk:
        assert (DOCS / name).stat().st_size < 300_000, f"{name} is large"


def test_mkdocs_config_names_every_page():
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text().replace("!!python", "#"))

    def pages(nav):
        for item in nav:
            for value in item.values():
                yield from (pages(value) if isinstance(value, list) else [value])

    assert set(pages(config["nav"])) == {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
