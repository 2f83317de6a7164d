"""moderation 0005: links of submissions to cases written by the old factcheck.CaseSubmission
(table factcheck_casesubmission) survive the move to moderation.CaseSubmission."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.models import User
from factcheck.cases.models import Case
from mediastore.services import media_store
from moderation.models import CaseSubmission, Report, Submission

BEFORE = ("moderation", "0004_nearmissjudgement")
OLD_TABLE = "factcheck_casesubmission"
# The table as factcheck 0004 created it before the link moved (constraints left out: only the
# columns matter to the copy).
OLD_TABLE_SQL = f"""
CREATE TABLE {OLD_TABLE} (
    id bigint PRIMARY KEY,
    note text NOT NULL,
    created_at timestamp with time zone NOT NULL,
    added_by_id bigint NULL,
    case_id bigint NOT NULL,
    report_id bigint NULL,
    submission_id bigint NOT NULL
)
"""


def _migrate(targets: list[tuple[str, str]]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_rows_of_the_old_link_table_move_to_moderation(make_image_bytes) -> None:
    user = User.objects.create_user("checker")
    case = Case.objects.create(title="Shark on the highway", status="new")
    submissions = [
        Submission.objects.create(
            source=Submission.Source.UPLOAD,
            media=media_store(content=make_image_bytes(seed=seed)).media,
        )
        for seed in (1, 2)
    ]
    report = Report.objects.create(
        submission=submissions[0],
        version=1,
        is_current=True,
        document={},
        label="edited_copy",
        manipulation_probability=0.9,
    )
    try:
        _migrate([BEFORE])
        assert CaseSubmission._meta.db_table not in connection.introspection.table_names()
        with connection.cursor() as cursor:
            cursor.execute(OLD_TABLE_SQL)
            cursor.execute(
                f"INSERT INTO {OLD_TABLE} "  # noqa: S608 - constant table name
                "(id, note, created_at, added_by_id, case_id, report_id, submission_id) VALUES "
                "(7, 'escalated', '2026-01-02T03:04:05+00:00', %s, %s, %s, %s), "
                "(9, '', '2026-01-03T03:04:05+00:00', NULL, %s, NULL, %s)",
                [user.pk, case.pk, report.pk, submissions[0].pk, case.pk, submissions[1].pk],
            )
    finally:
        _migrate(_latest())

    assert OLD_TABLE not in connection.introspection.table_names()
    links = list(CaseSubmission.objects.order_by("id"))
    assert [(link.pk, link.submission_id, link.report_id) for link in links] == [
        (7, submissions[0].pk, report.pk),
        (9, submissions[1].pk, None),
    ]
    assert links[0].note == "escalated" and links[0].added_by == user
    assert links[0].created_at.isoformat() == "2026-01-02T03:04:05+00:00"
    assert list(case.case_submissions.values_list("id", flat=True)) == [7, 9]
    # The ids were copied: a new link is numbered after them.
    third = Submission.objects.create(
        source=Submission.Source.UPLOAD, media=media_store(content=make_image_bytes(seed=3)).media
    )
    assert CaseSubmission.objects.create(case=case, submission=third).pk > 9


@pytest.mark.django_db(transaction=True)
def test_a_new_database_has_no_old_table() -> None:
    tables = connection.introspection.table_names()
    assert OLD_TABLE not in tables and CaseSubmission._meta.db_table in tables
