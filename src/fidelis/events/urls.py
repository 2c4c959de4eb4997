from django.urls import path

from fidelis.events import views

app_name = "events"

urlpatterns = [
    path("webhooks/", views.webhook_list, name="webhooks"),
    path("webhooks/<str:public_id>/", views.webhook_edit, name="webhook_edit"),
    path("webhooks/<str:public_id>/deactivate/", views.webhook_deactivate, name="webhook_deactivate"),
    path("webhooks/<str:public_id>/test/", views.webhook_test, name="webhook_test"),
    path("webhooks/deliveries/<str:public_id>/retry/", views.webhook_delivery_retry_now,
         name="webhook_delivery_retry"),
]
