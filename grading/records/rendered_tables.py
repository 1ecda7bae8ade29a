"""Markdown tables that formgrader and the feedback pages render as tables.

nbgrader's ``formgrade`` and ``feedback`` templates replace the header of nbconvert's
classic template, and with it the notebook stylesheet (``classic/static/style.css``) that
styles ``.rendered_html`` tables; they keep only ``resources.inlining.css``, which
nbconvert's :class:`CSSHTMLHeaderPreprocessor` fills with the Pygments (code
highlighting) rules. A markdown table is then a ``<table>`` under Bootstrap 3 alone, with
no padding and no borders, so the rubric's tier tables read "FID ≤5060 7590110130200".
:class:`RenderedTablesCSS` adds that stylesheet's table rules to the inlined CSS;
``grading/nbgrader_config.py`` gives it to formgrader's exporter and to ``GenerateFeedback``.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from jupyter_core.paths import jupyter_path
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor

STYLESHEET = ("nbconvert", "templates", "classic", "static", "style.css")
# The rules for `.rendered_html table`, `thead`, `tr`, `th`, `td`, `tbody tr…` and
# `* + table`: each a rule at the start of a line (not `div.output_area .rendered_html …`).
_TABLE_RULE = re.compile(
    r"^\.rendered_html (?:\* \+ )?(?:table|thead|tbody|tr|th|td)\b[^{]*\{[^}]*\}", re.M
)


@cache
def table_css() -> str:
    """The table rules of the notebook stylesheet that nbconvert installs."""
    found = [Path(p) for p in jupyter_path(*STYLESHEET) if Path(p).is_file()]
    if not found:
        raise FileNotFoundError(
            f"no {'/'.join(STYLESHEET)} in {jupyter_path(*STYLESHEET[:-1])}: nbconvert's "
            "classic template is missing; reinstall the environment with `make setup`"
        )
    rules = _TABLE_RULE.findall(found[0].read_text())
    if not rules:
        raise ValueError(f"{found[0]} has no .rendered_html table rules to inline")
    return "\n".join(rules)


class RenderedTablesCSS(CSSHTMLHeaderPreprocessor):
    """nbconvert's inlined CSS (Pygments, custom.css) and the notebook's table rules."""

    def _generate_header(self, resources: dict) -> list[str]:
        return [*super()._generate_header(resources), table_css()]
