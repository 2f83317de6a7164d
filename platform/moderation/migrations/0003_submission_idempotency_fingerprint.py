from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("moderation", "0002_reports_queue_events"),
    ]

    operations = [
        migrations.AddField(
            model_name="submission",
            name="idempotency_fingerprint",
            field=models.CharField(blank=True, max_length=64),
        ),
    ]
