"""What comes back from a sandbox made inert before an instructor's browser sees it.

The autograded notebook is written by the sandbox, so every byte of it is the student's:
formgrader and the feedback pages render it on the Jupyter server's origin. Before it is
stored in the course directory, :func:`sanitize`:

* runs nbconvert's :class:`~nbconvert.preprocessors.SanitizeHTML` (bleach) over every
  markdown and raw cell that is not the release's own locked cell (raw HTML escaped) and
  over every code cell's outputs (``text/html`` and ``text/markdown`` cleaned; JavaScript,
  SVG and widget outputs dropped);
* cuts each code cell's outputs to ``limit`` bytes, with a visible note.

The release's own locked cells are left as they are: they are the instructor's, and
bleach would escape the rubric's markup. Feedback and formgrader render the stored
notebook, so what they show is inert too.
"""

from __future__ import annotations

import json
from typing import Any

from grading import cells as nbcells


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
    cleaner = SanitizeHTML()
    for index, cell in enumerate(node.cells):
        cell.source = nbcells.source(cell)
        if cell.cell_type == "code":  # outputs are the student's code's, whoever wrote the cell
            kept = limit_outputs(cleaner.sanitize_code_outputs(cell.outputs), limit)
            cell.outputs = [nbformat.from_dict(output) for output in kept]
        elif trusted.get(nbcells.grade_id(cell)) != cell.source:
            cleaner.preprocess_cell(cell, {}, index)
    return json.loads(nbformat.writes(node))


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
