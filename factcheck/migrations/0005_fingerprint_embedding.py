from django.db import migrations, models


class Migration(migrations.Migration):
    """CLIP became one of two global embeddings (factcheck.embedding): the columns say so. Stored
    rows keep their vectors and tags (a CLIP row's tag is its model name, as before)."""

    dependencies = [
        ("factcheck", "0004_cases"),
    ]

    operations = [
        migrations.RenameField(model_name="fingerprint", old_name="clip", new_name="embedding"),
        migrations.RenameField(
            model_name="fingerprint", old_name="clip_model", new_name="embedding_model"
        ),
        migrations.AlterField(
            model_name="fingerprint",
            name="embedding",
            field=models.BinaryField(
                blank=True,
                help_text=(
                    "float32 global embedding: the learned copy descriptor, or CLIP when configured"
                ),
                null=True,
            ),
        ),
    ]
