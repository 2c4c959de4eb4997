from django.urls import include, path

from fidelis.accounts.views import language_set
from fidelis.config.api import api

urlpatterns = [
    # Django's set_language, which also remembers the choice on the user (the language of their e-mails).
    path("i18n/setlang/", language_set, name="set_language"),
    path("accounts/", include("fidelis.accounts.urls")),
    path("customers/", include("fidelis.customers.urls")),
    path("events/", include("fidelis.events.urls")),
    path("loyalty/", include("fidelis.loyalty.urls")),
    path("sales/", include("fidelis.sales.urls")),
    path("sales/", include("fidelis.pipeline.urls")),
    path("work/", include("fidelis.work.urls")),
    path("feedback/", include("fidelis.feedback.urls")),
    path("api/", api.urls),
    path("", include("fidelis.web.urls")),
]
