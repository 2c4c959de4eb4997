from django.urls import include, path

from fidelis.config.api import api

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("fidelis.accounts.urls")),
    path("customers/", include("fidelis.customers.urls")),
    path("events/", include("fidelis.events.urls")),
    path("loyalty/", include("fidelis.loyalty.urls")),
    path("sales/", include("fidelis.sales.urls")),
    path("work/", include("fidelis.work.urls")),
    path("api/", api.urls),
    path("", include("fidelis.web.urls")),
]
