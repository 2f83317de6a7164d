"""The link of a submission to a fact-checking case moves from factcheck to moderation.

Until now `factcheck.CaseSubmission` (table factcheck_casesubmission, created by factcheck 0004)
held it, which made factcheck depend on moderation. factcheck 0004 no longer creates that table;
on a database where it already exists, its rows (ids included) are copied into the new
moderation table and the old table is dropped, in this migration's transaction.
"""

import django.db.models.deletion
from django.conf import settings
from django.core.management.color import no_style
from django.db import migrations, models

OLD_TABLE = "factcheck_casesubmission"
COLUMNS = ("id", "case_id", "submission_id", "report_id", "note", "added_by_id", "created_at")


def old_links_move(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if OLD_TABLE not in connection.introspection.table_names(cursor):
            return  # a new database: factcheck 0004 never created it
    model = apps.get_model("moderation", "CaseSubmission")
    quote = schema_editor.quote_name
    columns = ", ".join(quote(column) for column in COLUMNS)
    # Only constant identifiers, quoted by the backend, go into this statement.
    schema_editor.execute(
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) "  # noqa: S608
        f"SELECT {columns} FROM {quote(OLD_TABLE)} ORDER BY {quote('id')}"
    )
    # Ids were copied: the next link must be numbered after them (PostgreSQL sequences).
    for statement in connection.ops.sequence_reset_sql(no_style(), [model]):
        schema_editor.execute(statement)
    schema_editor.execute(f"DROP TABLE {quote(OLD_TABLE)}")


class Migration(migrations.Migration):
    dependencies = [
        ("factcheck", "0004_cases"),
        ("moderation", "0004_nearmissjudgement"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="CaseSubmission",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("note", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "added_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "case",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="case_submissions",
                        to="factcheck.case",
                    ),
                ),
                (
                    "report",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="moderation.report",
                    ),
                ),
                (
                    "submission",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="case_links",
                        to="moderation.submission",
                    ),
                ),
            ],
            options={
                "ordering": ["id"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("case", "submission"), name="moderation_case_submission_unique"
                    )
                ],
            },
        ),
        # Reversing keeps nothing to move back to: factcheck no longer has the model.
        migrations.RunPython(old_links_move, migrations.RunPython.noop),
    ]
