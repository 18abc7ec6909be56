"""Griffe extension for the docs build: render ``Example:`` sections as examples.

keras-mr's docstrings use Google style with a singular ``Example:`` heading
whose body is not indented under it (doctest ``>>>`` lines or a fenced code
block).  Griffe recognises only an indented ``Examples:`` section; otherwise
the doctest lines would render as nested block quotes.  This extension
rewrites the loaded docstrings (never the source files): the heading becomes
``Examples:`` and its body is indented under it.
"""

import re

import griffe

_HEADING = re.compile(r"^(\s*)Examples?:\s*$")
_OTHER_SECTION = re.compile(r"^\s*[A-Z][A-Za-z ]*:\s*$")


def rewrite_examples(text):
    """Returns ``text`` with every ``Example:`` section as an indented ``Examples:`` section."""
    lines = text.split("\n")
    out, i = [], 0
    while i < len(lines):
        m = _HEADING.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        indent = m.group(1)
        out.append(f"{indent}Examples:")
        i += 1
        body = []
        while i < len(lines):
            line = lines[i]
            if _OTHER_SECTION.match(line) and len(line) - len(line.lstrip()) <= len(indent):
                break
            body.append(line)
            i += 1
        while body and not body[0].strip():
            body.pop(0)
        trailing = []
        while body and not body[-1].strip():
            trailing.append(body.pop())
        nonblank = [b for b in body if b.strip()]
        body_indent = min((len(b) - len(b.lstrip()) for b in nonblank), default=0)
        extra = "" if body_indent > len(indent) else " " * 4
        out.extend(extra + b if b.strip() else b for b in body)
        out.extend(trailing)
    return "\n".join(out)


class ExampleSections(griffe.Extension):
    """Rewrites ``Example:`` sections of every loaded docstring (see :func:`rewrite_examples`)."""

    def on_instance(self, *, obj, **kwargs):
        doc = obj.docstring
        if doc is not None and "Example" in doc.value:
            doc.value = rewrite_examples(doc.value)
