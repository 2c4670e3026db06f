from django.urls import path

from portal import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
]
