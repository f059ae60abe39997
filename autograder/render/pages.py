"""The HTML pages' one renderer: Jinja2 templates with autoescape on.

Every page the kit writes (a student's feedback, the class summary, the similarity report, the
progress page and its notebook fragment) is a template in ``autograder/render/templates/``; the Python
side hands over plain values only. Autoescape is on for every template, so student-derived text is
escaped unless a template says otherwise — a forgotten call can no longer become an injection.
Text from students also goes through ``neutralise.visible`` first (the ``shown`` filter), so a
control character is shown (``\\x1b``), not sent to the browser.
"""

from __future__ import annotations

import math
from functools import cache

from ..core import neutralise


def _num(value, spec: str = "g") -> str:
    """A number as the pages show it (``:g`` by default); what is not a finite number reads "—"."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "—"
    return format(value, spec)


@cache
def environment():
    """The one Jinja2 environment: templates shipped in the package, autoescape on for all of them,
    an undefined name an error (a typo must not render as an empty cell)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("autograder.render", "templates"),
        autoescape=True,  # every template, whatever its file name ends with
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["shown"] = neutralise.visible
    env.filters["num"] = _num
    return env


def render(template: str, **context) -> str:
    """``template`` (a file of ``autograder/render/templates/``) filled with ``context``, escaped by default."""
    return environment().get_template(template).render(**context)
