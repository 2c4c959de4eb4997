"""Drop the words the platform itself stored on the events whose type says it all (house rule 20).

`customer.created` and `customer.erased` were written with a fixed sentence in the language of the moment; the
timeline now shows just the type, named in the viewer's language. Only those exact sentences are cleared: a summary
an outside system sent stays. The other system events keep their stored summary, shown only when their payload
lacks the facts their line is made from (`events.lines`).
"""

from django.db import migrations

STORED = {
    "customer.created": ["Customer record created", "已创建客户档案", "已建立客戶檔案"],
    "customer.erased": ["Personal data erased", "个人信息已删除", "個人資訊已刪除"],
}


def clear(apps, schema_editor):
    Event = apps.get_model("events", "Event")
    for event_type, sentences in STORED.items():
        Event.objects.filter(type=event_type, summary__in=sentences).update(summary="")


class Migration(migrations.Migration):
    dependencies = [("events", "0007_pending_dispatch_historical")]

    operations = [migrations.RunPython(clear, migrations.RunPython.noop)]
