"""Accessibility and layout checks for the browser tests: axe-core's violations on the page as
shown (the engine ships in the PyPI package axe-playwright-python; nothing is fetched at run
time) and sideways scrolling."""

from __future__ import annotations

from typing import Any

AXE_SCOPE = "data-axe-scope"


def axe_violations(page: Any, *, within: str | None = None) -> list[str]:
    """axe-core's violations on the page now shown, one line each (empty when none). With
    `within` (a CSS selector), only the section or form holding that element is checked."""
    from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]

    if within is not None:
        page.evaluate(
            "([selector, scope]) => document.querySelector(selector).closest('section, form')"
            ".setAttribute(scope, '')",
            [within, AXE_SCOPE],
        )
    results = Axe().run(page, context=f"[{AXE_SCOPE}]" if within else None)
    return [
        f"{violation['id']}: {violation['help']} ({len(violation['nodes'])} nodes: "
        + ", ".join(str(node["target"]) for node in violation["nodes"][:3])
        + ")"
        for violation in results.response["violations"]
    ]


def sideways_overflow(page: Any, selector: str = "") -> int:
    """How many CSS pixels the page (or the element `selector` picks, e.g. "main": its content
    and its right edge) reaches past the viewport's width; 0 or less: no horizontal scroll."""
    if not selector:
        return int(
            page.evaluate(
                "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
                " - document.documentElement.clientWidth"
            )
        )
    return int(
        page.locator(selector).first.evaluate(
            "el => Math.max(el.scrollWidth - el.clientWidth,"
            " el.getBoundingClientRect().right - document.documentElement.clientWidth)"
        )
    )
