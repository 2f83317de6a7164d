from django.db.models import Count

from factcheck.models import Reference
from moderation.models import Submission


def dashboard_counts() -> dict[str, int]:
    by_status = dict(
        Submission.objects.order_by().values_list("status").annotate(count=Count("id"))
    )
    return {
        "references": Reference.objects.count(),
        "submissions": sum(by_status.values()),
        "analyzed": by_status.get(Submission.Status.ANALYZED, 0),
        "pending": by_status.get(Submission.Status.RECEIVED, 0)
        + by_status.get(Submission.Status.ANALYZING, 0),
        "failed": by_status.get(Submission.Status.FAILED, 0),
    }
