# The moved models' content types follow them to the pipeline app, so that what points at a contract or an
# opportunity by content type (a task's related object, the admin log) keeps pointing at it.

from django.db import migrations

MOVED = ("pipeline", "stage", "opportunity", "opportunitystagechange", "contract")


def _move(apps, schema_editor, source: str, target: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MOVED:
        if not ContentType.objects.using(db).filter(app_label=target, model=model).exists():
            ContentType.objects.using(db).filter(app_label=source, model=model).update(app_label=target)


def forwards(apps, schema_editor):
    _move(apps, schema_editor, "sales", "pipeline")


def backwards(apps, schema_editor):
    _move(apps, schema_editor, "pipeline", "sales")


class Migration(migrations.Migration):

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("pipeline", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
