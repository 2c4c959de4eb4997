"""The tasks' part of a person's data export (`fidelis.customers.privacy`): the to-dos and follow-ups about them."""

from typing import Any

from fidelis.customers.privacy import personal_data_section, plain
from fidelis.work.models import Task


@personal_data_section("work", models=[Task])
def work_personal_data(customer) -> dict[str, Any]:
    """Return the tasks about the person, oldest first."""
    tasks = Task.objects.filter(customer=customer).select_related("owner").order_by("created_at", "id")
    return {"tasks": [
        {"title": task.title, "notes": task.notes, "status": task.status, "priority": task.priority,
         "source": task.source, "order_no": task.source_order_no, "due_at": plain(task.due_at),
         "done_at": plain(task.done_at), "owner": task.owner.get_username(), "created_at": plain(task.created_at)}
        for task in tasks]}
