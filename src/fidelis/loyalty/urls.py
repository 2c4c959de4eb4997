from fidelis.loyalty.views import design, members, program

app_name = "loyalty"

# Each view module owns its patterns: program.py the overview, members.py the members and their points,
# design.py the program's set-up (program form, tiers, earn rules with preview, coupon templates, rewards).
urlpatterns = [*program.urlpatterns, *design.urlpatterns, *members.urlpatterns]
