"""A hostile notebook: outputs, markdown, attachments and widget state that run script
wherever a page renders them as given (tests/test_browser.py, tests/test_stored_notebook.py)."""

from __future__ import annotations

import copy

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg=="
"""A valid 2x2 PNG: its ``onload`` fires."""

# Each attack sets window.pwned_<what> if its script runs.
HOSTILE_OUTPUTS = [
    # nbconvert writes width and height unquoted: a space starts a new attribute.
    {
        "output_type": "display_data",
        "data": {"image/png": PNG, "text/plain": "<Figure>"},
        "metadata": {"image/png": {"height": "1 onload=window.pwned_height=1"}},
    },
    {
        "output_type": "display_data",
        "data": {"image/png": "AAAA"},
        "metadata": {"width": "1 onerror=window.pwned_width=1"},
    },
    {
        "output_type": "display_data",
        "data": {"image/png": PNG},
        "metadata": {"filenames": {"image/png": "javascript:window.pwned_filename=1"}},
    },
    {
        "output_type": "display_data",
        "data": {
            "text/html": "<script>window.pwned_html=1</script><img src=x onerror=window.pwned_img=1>",
            "image/svg+xml": "<svg xmlns='http://www.w3.org/2000/svg' onload='window.pwned_svg=1'/>",
            "application/javascript": "window.pwned_js=1",
            "application/vnd.jupyter.widget-view+json": {"model_id": "m", "version_major": 2},
        },
        "metadata": {},
    },
    {
        "output_type": "execute_result",
        "execution_count": 1,
        "data": {
            "text/markdown": "<img src=x onerror=window.pwned_md_output=1> [x](javascript:window.pwned_link=1)"
        },
        "metadata": {},
    },
    {
        "output_type": "error",
        "ename": "<img src=x onerror=window.pwned_ename=1>",
        "evalue": "<script>window.pwned_evalue=1</script>",
        "traceback": ["<img src=x onerror=window.pwned_traceback=1>"],
    },
]
HOSTILE_MARKDOWN = {
    "cell_type": "markdown",
    "metadata": {"alt": 'x" onload="window.pwned_alt=1'},
    "source": (
        "<script>window.pwned_markdown=1</script><img src=x onerror=window.pwned_md_img=1>\n\n"
        "[a link](javascript:window.pwned_md_link=1) ![svg](attachment:evil.svg) "
        "![png](attachment:ok.png)"
    ),
    "attachments": {
        "evil.svg": {"image/svg+xml": "PHN2ZyBvbmxvYWQ9IndpbmRvdy5wd25lZF9hdHRhY2htZW50PTEiLz4="},
        "ok.png": {"image/png": PNG, "text/html": "<script>window.pwned_bundle=1</script>"},
    },
}
WIDGET_STATE = {
    "application/vnd.jupyter.widget-state+json": {
        "version_major": 2,
        "version_minor": 0,
        "state": {
            "m": {
                "model_name": "HTMLModel",
                "model_module": "@jupyter-widgets/controls",
                "model_module_version": "2.0.0",
                "state": {"value": "<img src=x onerror=window.pwned_widget=1>"},
            }
        },
    }
}


def hostile_notebook(release: dict) -> dict:
    """The release with a student's markdown cell and hostile outputs under TODO 1-1-1."""
    nb = copy.deepcopy(release)
    nb["metadata"]["widgets"] = WIDGET_STATE
    for cell in nb["cells"]:
        if (cell.get("metadata", {}).get("nbgrader") or {}).get("grade_id") == "todo_1_1_1":
            cell["outputs"] = copy.deepcopy(HOSTILE_OUTPUTS)
            cell["metadata"]["alt"] = 'x" onload="window.pwned_cell_alt=1'
    nb["cells"].insert(1, {**HOSTILE_MARKDOWN, "id": "student-1"})
    return nb
