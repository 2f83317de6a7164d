"""The import direction between the packages, including what import tools miss.

Sources are parsed with `ast` (nothing is imported), and every reference from one package to
another is checked against `MAY_IMPORT`: `import` statements, and the string references Django
resolves at run time: model labels in ForeignKey / OneToOneField / ManyToManyField ("app.Model",
also as `to=` in migrations), `apps.get_model("app", "Model")` / `get_model("app.Model")`,
`import_module("pkg.mod")` and migration `dependencies` (("app", "0001_initial")).

Each package README's "May import" line says the same as this table.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Where each package's source lives (longest prefix wins).
UNIT_PATHS = {
    "platform/config/urls.py": "config.urls",
    "platform/config/errors.py": "config.errors",
    "platform/config/": "config",
    "platform/accounts/": "accounts",
    "platform/mediastore/": "mediastore",
    "platform/ops/": "ops",
    "platform/moderation/": "moderation",
    "platform/integrations/": "integrations",
    "detection/": "detection",
    "factcheck/cases/": "factcheck.cases",
    "factcheck/": "factcheck",
    "frontend/": "frontend",
}
UNITS = set(UNIT_PATHS.values())

# What each package may reference besides itself, Django and libraries. The shared lower layers
# (accounts, config, mediastore) import no package of the project but `config.errors`, the base
# of service refusals (plain Python) that every package may raise; the root URLconf mounts
# everything.
ERRORS = "config.errors"
MAY_IMPORT: dict[str, set[str]] = {
    ERRORS: set(),
    "config": {ERRORS},
    "accounts": {ERRORS},
    "mediastore": {ERRORS},
    "ops": {"accounts", "config", ERRORS},
    "detection": {"accounts", "mediastore", ERRORS},
    "factcheck": {"accounts", "mediastore", ERRORS},
    "factcheck.cases": {"factcheck", "accounts", "mediastore", ERRORS},
    "moderation": {"detection", "factcheck", "factcheck.cases", "accounts", "config", "mediastore"}
    | {ERRORS},
    "integrations": {"moderation", "accounts", "config", "mediastore", ERRORS},
    "frontend": {"moderation", "factcheck", "factcheck.cases", "accounts", "mediastore", ERRORS},
    "config.urls": UNITS - {"config.urls"},
}

# Files allowed one more reference, and why.
EXCEPTIONS: dict[str, tuple[str, str]] = {
    # Django imports only <app>.models: this import registers the case models with the app.
    "factcheck/models.py": ("factcheck.cases", "registers the case models"),
    # The factcheck app's migrations create every model of the app, the case models included.
    "factcheck/migrations/": ("factcheck.cases", "the app's migrations hold its case models"),
    # Django finds commands only in an app's management/commands: this one is of the cases.
    "factcheck/management/commands/evaluate_claim_matching.py": (
        "factcheck.cases",
        "a command of the cases",
    ),
}

# Django app labels of the packages; "factcheck" models of factcheck/cases/models.py belong to
# factcheck.cases.
APP_UNITS = {
    "accounts": "accounts",
    "mediastore": "mediastore",
    "ops": "ops",
    "moderation": "moderation",
    "integrations": "integrations",
    "detection": "detection",
    "factcheck": "factcheck",
    "frontend": "frontend",
}
RELATION_FIELDS = {"ForeignKey", "OneToOneField", "ManyToManyField"}


def _case_model_names() -> set[str]:
    tree = ast.parse((REPO / "factcheck/cases/models.py").read_text())
    return {node.name.lower() for node in tree.body if isinstance(node, ast.ClassDef)}


CASE_MODELS = _case_model_names()


@dataclass(frozen=True)
class Violation:
    path: str
    line: int
    source: str
    target: str
    how: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.source} -> {self.target} ({self.how})"


def unit_of_path(path: str) -> str | None:
    matches = [prefix for prefix in UNIT_PATHS if path.startswith(prefix)]
    return UNIT_PATHS[max(matches, key=len)] if matches else None


def unit_of_module(name: str) -> str | None:
    """The package a dotted module name belongs to (None: Django, a library, the stdlib)."""
    if name == "factcheck.cases" or name.startswith("factcheck.cases."):
        return "factcheck.cases"
    if name in ("config.urls", ERRORS):
        return name
    top = name.split(".")[0]
    return top if top in UNITS else None


def unit_of_label(label: str) -> str | None:
    """The package of a model label ("moderation.Submission") or an app label ("factcheck")."""
    app, _, model = label.partition(".")
    unit = APP_UNITS.get(app)
    if unit == "factcheck" and model.lower() in CASE_MODELS:
        return "factcheck.cases"
    return unit


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _strings(nodes: list[ast.expr]) -> list[str]:
    return [n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def references(tree: ast.AST) -> list[tuple[int, str, str]]:
    """(line, target package, how) of every reference to a package of the project."""
    found: list[tuple[int, str | None, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, unit_of_module(a.name), f"import {a.name}") for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, unit_of_module(node.module), f"from {node.module}"))
        elif isinstance(node, ast.Call):
            name = _call_name(node)
            if name in RELATION_FIELDS:
                labels = _strings(node.args[:1]) + _strings(
                    [kw.value for kw in node.keywords if kw.arg == "to"]
                )
                found += [(node.lineno, unit_of_label(x), f'{name}("{x}")') for x in labels]
            elif name == "get_model":
                args = _strings(node.args)
                if args:
                    found.append((node.lineno, unit_of_label(".".join(args[:2])), "get_model"))
            elif name == "import_module":
                found += [(node.lineno, unit_of_module(x), name) for x in _strings(node.args[:1])]
        elif isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "dependencies" for target in node.targets
        ):
            for item in getattr(node.value, "elts", []):
                pair = _strings(getattr(item, "elts", []))
                if len(pair) == 2:
                    found.append((item.lineno, unit_of_label(pair[0]), f"dependency {pair}"))
    return [(line, target, how) for line, target, how in found if target is not None]


def violations_in(source: str, path: str) -> list[Violation]:
    unit = unit_of_path(path)
    if unit is None:
        return []
    allowed = MAY_IMPORT[unit] | {unit}
    allowed |= {extra for prefix, (extra, _) in EXCEPTIONS.items() if path.startswith(prefix)}
    return [
        Violation(path, line, unit, target, how)
        for line, target, how in references(ast.parse(source, filename=path))
        if target not in allowed
    ]


def project_sources() -> list[Path]:
    roots = {prefix.split("/")[0] for prefix in UNIT_PATHS}
    return sorted(
        path
        for root in roots
        for path in (REPO / root).rglob("*.py")
        if unit_of_path(path.relative_to(REPO).as_posix()) is not None
    )


def test_every_package_imports_only_what_its_readme_allows() -> None:
    violations = [
        str(violation)
        for path in project_sources()
        for violation in violations_in(path.read_text(), path.relative_to(REPO).as_posix())
    ]
    assert violations == []


def test_the_scan_sees_the_packages() -> None:
    scanned = {unit_of_path(path.relative_to(REPO).as_posix()) for path in project_sources()}
    assert scanned == UNITS
    assert set(MAY_IMPORT) == UNITS


FAKE_CASE_MODELS = """
from django.db import models


class CaseSubmission(models.Model):
    submission = models.ForeignKey("moderation.Submission", on_delete=models.CASCADE)
    report = models.ForeignKey(to="moderation.Report", on_delete=models.SET_NULL, null=True)
    reference = models.ForeignKey("factcheck.Reference", on_delete=models.CASCADE)
"""


def test_a_string_foreign_key_to_moderation_inside_factcheck_is_reported() -> None:
    found = violations_in(FAKE_CASE_MODELS, "factcheck/cases/models.py")
    assert [(v.line, v.source, v.target) for v in found] == [
        (6, "factcheck.cases", "moderation"),
        (7, "factcheck.cases", "moderation"),
    ]
    assert 'ForeignKey("moderation.Submission")' in str(found[0])


def test_hidden_references_of_every_kind_are_reported() -> None:
    source = """
from django.apps import apps
from importlib import import_module
from django.db import migrations
import moderation.models
from integrations.outbound import x

Submission = apps.get_model("moderation", "Submission")
Report = apps.get_model("moderation.Report")
tasks = import_module("moderation.tasks")


class Migration(migrations.Migration):
    dependencies = [("factcheck", "0003_index_outbox"), ("moderation", "0002_reports")]
    operations = [migrations.CreateModel(name="Link", fields=[
        ("case", models.ForeignKey(to="factcheck.case", on_delete=models.CASCADE)),
    ])]
"""
    found = violations_in(source, "factcheck/migrations/0009_fake.py")
    assert sorted((v.line, v.target) for v in found) == [
        (5, "moderation"),
        (6, "integrations"),
        (8, "moderation"),
        (9, "moderation"),
        (10, "moderation"),
        (14, "moderation"),
    ]
    # Inside factcheck (not its migrations or models module), a case model is cases' own.
    assert [v.target for v in violations_in(source, "factcheck/services.py")].count(
        "factcheck.cases"
    ) == 1


def test_allowed_directions_pass() -> None:
    source = """
from factcheck.cases.models import Case
from factcheck.selectors import image_matches
from detection.selectors import image_detection
from accounts.models import User

link = models.ForeignKey("factcheck.Case", on_delete=models.CASCADE)
"""
    assert violations_in(source, "platform/moderation/escalation.py") == []
    assert [v.target for v in violations_in(source, "detection/selectors.py")] == [
        "factcheck.cases",
        "factcheck",
        "factcheck.cases",
    ]
