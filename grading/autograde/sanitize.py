"""What comes back from a sandbox made inert before an instructor's browser sees it.

The autograded notebook holds the student's cells and what the student's kernel sent, so
every byte of it but the release's own cells is the student's: formgrader and the feedback
pages render it on the Jupyter server's origin. Before it is stored in the course
directory, :func:`sanitize` keeps only what an allow-list names:

* the notebook's metadata is the release's (a kernel's widget state would make the page
  load a widget manager that renders its HTML);
* a cell keeps the metadata keys of :data:`CELL_METADATA`; markdown and raw cells that are
  not the release's own locked cells go through nbconvert's
  :class:`~nbconvert.preprocessors.SanitizeHTML` (bleach: raw HTML escaped), and keep
  only image attachments (:data:`IMAGES`);
* each output is rebuilt from the fields its type allows: a stream's name and text, an
  error's name, value and traceback, display data cleaned by ``SanitizeHTML``
  (``text/html`` and ``text/markdown`` cleaned; JavaScript, SVG and widget outputs
  dropped) with its metadata cut to :data:`OUTPUT_METADATA` (nbconvert writes an image's
  ``width`` and ``height`` into the page unquoted: ``"1 onload=..."`` would be a live
  handler, so they must be integers);
* each code cell's outputs are cut to ``limit`` bytes, with a visible note.

The release's own locked cells are left as they are: they are the instructor's, and
bleach would escape the rubric's markup. Feedback and formgrader render the stored
notebook, so what they show is inert too.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from grading import notebook_format as nbcells

CELL_METADATA = {"nbgrader", "tags", "editable", "deletable"}
"""Cell metadata kept: nbgrader's (the release's, put back by :mod:`grading.autograde.restore`) and
the notebook front end's flags; nothing else reaches a template."""

IMAGES = {"image/png", "image/jpeg", "image/gif"}
"""Attachment types kept (as base64 text): what a markdown ``![](attachment:...)`` shows."""

ATTACHMENT = re.compile(r"attachment:([^\s)\"'>]+)")
"""A reference to an attachment in markdown; those to dropped attachments are replaced."""

OUTPUT_METADATA = {"width": int, "height": int, "isolated": bool, "unconfined": bool}
"""Output metadata kept, at the top or under a MIME type, and only of exactly this type."""


def sanitize(nb: dict[str, Any], release: dict[str, Any], limit: int) -> dict[str, Any]:
    """``nb`` (an autograded notebook) with student content inert and outputs bounded."""
    import nbformat
    from nbconvert.preprocessors.sanitize import SanitizeHTML

    trusted = {
        nbcells.grade_id(c): c["source"]
        for c in release["cells"]
        if nbcells.nbgrader(c).get("locked") and nbcells.grade_id(c)
    }
    # reads, not from_dict: it joins the multi-line strings a notebook may store as lists.
    node = nbformat.reads(json.dumps(nb), as_version=4)
    node.metadata = nbformat.from_dict(copy.deepcopy(release.get("metadata", {})))
    cleaner = SanitizeHTML()
    for index, cell in enumerate(node.cells):
        cell.source = nbcells.source(cell)
        cell.metadata = nbformat.from_dict(
            {k: v for k, v in cell.metadata.items() if k in CELL_METADATA}
        )
        if cell.cell_type == "code":  # outputs are the student's code's, whoever wrote the cell
            outputs = [nbformat.from_dict(o) for o in map(_output, cell.outputs) if o is not None]
            for output in cleaner.sanitize_code_outputs(outputs):
                if "text/markdown" in output.get("data", {}):
                    output.data["text/markdown"] = inert_links(output.data["text/markdown"])
            kept = limit_outputs(outputs, limit)
            cell.outputs = [nbformat.from_dict(output) for output in kept]
        elif trusted.get(nbcells.grade_id(cell)) != cell.source:
            cleaner.preprocess_cell(cell, {}, index)
            cell.source = inert_links(cell.source)
            attachments = _attachments(cell.pop("attachments", None))
            if attachments:
                cell.attachments = nbformat.from_dict(attachments)
            # nbconvert refuses a notebook that shows an attachment it lacks.
            cell.source = ATTACHMENT.sub(
                lambda m, kept=attachments: m[0] if m[1] in kept else "#attachment-removed",
                cell.source,
            )
    return json.loads(nbformat.writes(node))


SCHEMES = {"http", "https", "mailto", "attachment"}
"""URL schemes a student's markdown may link to (and ``data:`` for images): a
``javascript:`` link runs on a click, and nbconvert renders whatever the markdown says."""


def inert_links(markdown: str) -> str:
    """``markdown``, or, if it links to a URL of another scheme (or puts a link in maths,
    which MathJax renders), the same text as a code block, where nothing is a link."""
    from nbconvert.filters.markdown_mistune import MarkdownWithMath

    def unsafe(token: dict) -> bool:
        url = token.get("attrs", {}).get("url")
        if isinstance(url, str):
            # Browsers ignore blanks and control characters in a scheme ("java\tscript:").
            found = re.match(r"([a-z][a-z0-9+.-]*):", re.sub(r"[\x00-\x20]", "", url).lower())
            allowed = SCHEMES | ({"data"} if token["type"] == "image" else set())
            if found and found[1] not in allowed:
                return True
        if "math" in token.get("type", "") and re.search(r"\\(href|url)", token.get("raw", "")):
            return True
        return any(unsafe(child) for child in token.get("children", ()))

    if not any(unsafe(token) for token in MarkdownWithMath(renderer=None)(markdown)):
        return markdown
    fence = "`" * max(3, 1 + max(map(len, re.findall(r"`+", markdown)), default=0))
    return f"(shown as text: it links to a script)\n\n{fence}\n{markdown}\n{fence}\n"


def _text(value: Any) -> str:
    """A notebook string (stored as one string or a list of lines); anything else: empty."""
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else ""


def _output(output: Any) -> dict[str, Any] | None:
    """``output`` rebuilt from the fields its type allows, or None for an unknown type."""
    if not isinstance(output, dict):
        return None
    kind = output.get("output_type")
    if kind == "stream":
        name = output.get("name") if output.get("name") in ("stdout", "stderr") else "stdout"
        return {"output_type": kind, "name": name, "text": _text(output.get("text"))}
    if kind == "error":
        trace = output.get("traceback") if isinstance(output.get("traceback"), list) else []
        return {
            "output_type": kind,
            "ename": _text(output.get("ename")),
            "evalue": _text(output.get("evalue")),
            "traceback": [t for t in trace if isinstance(t, str)],
        }
    if kind not in ("display_data", "execute_result"):
        return None
    data = output.get("data") if isinstance(output.get("data"), dict) else {}
    clean = {
        "output_type": kind,
        # JSON data stays structured; every other type is text (images base64).
        "data": {k: (v if k == "application/json" else _text(v)) for k, v in data.items()},
        "metadata": _output_metadata(output.get("metadata"), set(data)),
    }
    if kind == "execute_result":
        count = output.get("execution_count")
        clean["execution_count"] = count if type(count) is int else None
    return clean


def _allowed(metadata: Any) -> dict[str, Any]:
    if not isinstance(metadata, dict):
        return {}
    return {k: v for k, v in metadata.items() if type(v) is OUTPUT_METADATA.get(k)}


def _output_metadata(metadata: Any, types: set[str]) -> dict[str, Any]:
    """The allowed keys of ``metadata``, at its top and under each of the output's types."""
    if not isinstance(metadata, dict):
        return {}
    kept: dict[str, Any] = _allowed(metadata)
    for kind in sorted(types & set(metadata)):
        if _allowed(metadata[kind]):
            kept[kind] = _allowed(metadata[kind])
    return kept


def _attachments(attachments: Any) -> dict[str, dict[str, str]]:
    """The image attachments of a markdown cell (base64 text of an allowed type)."""
    if not isinstance(attachments, dict):
        return {}
    kept = {}
    for name, bundle in attachments.items():
        if not (isinstance(name, str) and isinstance(bundle, dict)):
            continue
        images = {k: v for k, v in bundle.items() if k in IMAGES and isinstance(v, str)}
        if images:
            kept[name] = images
    return kept


def limit_outputs(outputs: list, limit: int) -> list:
    """At most ``limit`` bytes of outputs (text cut, the rest dropped), with a visible note."""
    kept, used, total = [], 0, 0
    for output in outputs:
        size = len(json.dumps(output))
        total += size
        if used + size <= limit:
            kept.append(output)
            used += size
        elif output.get("output_type") == "stream" and used < limit:
            text = "".join(output.get("text", ""))
            kept.append({**output, "text": text[: limit - used]})
            used = limit
    if total > limit:
        note = (
            f"\n[output truncated: this cell wrote {total:,} bytes of output; "
            f"at most {limit >> 10} KiB per cell are kept]\n"
        )
        kept.append({"output_type": "stream", "name": "stderr", "text": note})
    return kept
