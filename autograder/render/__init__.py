"""Renderings of a report: the terminal's, the HTML pages (Jinja2 templates in ``templates/``), the
similarity page, and a loss curve in words. Student-derived text is neutralised for each."""
