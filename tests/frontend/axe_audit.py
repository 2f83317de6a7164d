"""Accessibility and layout checks for the browser tests: axe-core's violations on the page
shown (axe-playwright-python ships axe-core; nothing is fetched) and sideways scrolling."""

from __future__ import annotations


def axe_violations(page) -> list[str]:
    """axe-core's violations of the page now shown, one line each (empty when none)."""
    from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]

    results = Axe().run(page)
    return [
        f"{violation['id']}: {violation['help']} ({len(violation['nodes'])} nodes: "
        + ", ".join(str(node["target"]) for node in violation["nodes"][:3])
        + ")"
        for violation in results.response["violations"]
    ]


def sideways_overflow(page, selector: str = "") -> int:
    """How many CSS pixels the page (or the element `selector` picks, e.g. "main": its content
    and its right edge) reaches past the viewport's width; 0 or less: no horizontal scroll."""
    if not selector:
        return page.evaluate(
            "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
            " - document.documentElement.clientWidth"
        )
    return page.locator(selector).first.evaluate(
        "el => Math.max(el.scrollWidth - el.clientWidth,"
        " el.getBoundingClientRect().right - document.documentElement.clientWidth)"
    )
