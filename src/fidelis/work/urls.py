from fidelis.work.views import rules, tasks

app_name = "work"

# rules.py first: its fixed paths ("rules/…") come before the task pages' "<public_id>/".
urlpatterns = [*rules.urlpatterns, *tasks.urlpatterns]
