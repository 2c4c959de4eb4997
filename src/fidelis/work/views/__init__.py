"""Tasks in the UI: tasks.py the list, form, detail, the htmx actions and the customer panel; rules.py the
follow-up rules. Each module owns its `urlpatterns`."""
