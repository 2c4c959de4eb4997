from fidelis.feedback import views

app_name = "feedback"

urlpatterns = views.urlpatterns
