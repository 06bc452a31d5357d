"""The transactional outbox of Celery tasks (procurement/outbox.py, docs/operations.md)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("procurement", "0005_audit_hash_chain"),
    ]

    operations = [
        migrations.CreateModel(
            name="TaskOutbox",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("task", models.CharField(max_length=200)),
                ("args", models.JSONField(default=list)),
                ("kwargs", models.JSONField(default=dict)),
                ("options", models.JSONField(default=dict)),
                ("key", models.CharField(blank=True, max_length=200, null=True, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("published_at", models.DateTimeField(blank=True, null=True)),
                ("attempts", models.PositiveIntegerField(default=0)),
                ("last_error", models.CharField(blank=True, max_length=500)),
            ],
            options={
                "indexes": [
                    models.Index(
                        condition=models.Q(("published_at__isnull", True)),
                        fields=["created_at"],
                        name="task_outbox_pending",
                    )
                ],
            },
        ),
    ]
