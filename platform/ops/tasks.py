from celery import shared_task

from ops.services import worker_pong_record


@shared_task(name="ops.worker_pong")
def worker_pong(token: str) -> None:
    from celery import current_task

    worker_pong_record(token=token, worker=current_task.request.hostname or "in-process")
