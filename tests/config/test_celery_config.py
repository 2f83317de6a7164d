"""Broker and task settings that make delivery at-least-once and never concurrent."""

from config.celery import app


def test_tasks_ack_late_and_requeue_when_their_worker_dies() -> None:
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


def test_every_task_time_limit_is_below_the_visibility_timeout() -> None:
    app.loader.import_default_modules()
    visibility_timeout = app.conf.broker_transport_options["visibility_timeout"]
    project_tasks = [name for name in app.tasks if not name.startswith("celery.")]
    assert project_tasks, "no project task registered"
    for name in project_tasks:
        task = app.tasks[name]
        hard_limit = task.time_limit or app.conf.task_time_limit
        soft_limit = task.soft_time_limit or app.conf.task_soft_time_limit
        assert hard_limit is not None, name
        assert soft_limit < hard_limit < visibility_timeout, name


def test_worker_children_are_replaced_above_the_memory_bound(settings) -> None:
    assert app.conf.worker_max_memory_per_child == settings.WORKER_MAX_MEMORY_MB * 1024


def test_pipeline_stages_have_their_own_queues() -> None:
    names = {queue.name for queue in app.conf.task_queues}
    assert {"ingest", "analyze", "index", "deliver"} <= names
