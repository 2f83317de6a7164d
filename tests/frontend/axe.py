"""axe-core accessibility checks in the browser tests (the engine ships in the PyPI package
axe-playwright-python; nothing is fetched at run time)."""

from __future__ import annotations

from importlib import resources
from typing import Any


def axe_violations(page: Any, *, exclude: list[str] | None = None) -> list[str]:
    """axe's violations on the page now shown, one line each (rule, impact, first targets).
    The engine is evaluated through the DevTools protocol, which the page's CSP does not
    govern, so the page's own policy stays as served."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        source = resources.files("axe_playwright_python").joinpath("axe.min.js").read_text()
        page.evaluate(source)
    results = page.evaluate(
        """async (exclude) => await axe.run({exclude: exclude.map((s) => [s])},
            {resultTypes: ["violations"]})""",
        exclude or [],
    )
    return [
        f"{violation['id']} ({violation['impact']}): "
        + ", ".join(str(node["target"]) for node in violation["nodes"][:3])
        for violation in results["violations"]
    ]
