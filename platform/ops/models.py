from django.db import models


class WorkerPong(models.Model):
    """A worker's answer to a ping: proof that tasks enqueued by the web tier get executed."""

    token = models.CharField(max_length=64, unique=True)
    worker = models.CharField(max_length=255)
    python_version = models.CharField(max_length=32, blank=True)
    executions = models.PositiveIntegerField(
        default=0, help_text="How many times the task ran for this token (redeliveries show here)."
    )
    answered_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.token} by {self.worker}"
