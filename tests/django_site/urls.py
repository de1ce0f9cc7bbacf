from django.urls import path

from django_site import views

urlpatterns = [
    path("", views.home, name="home"),
    path("watch/<str:foss>/<str:tutorial>/<str:language>/", views.watch, name="watch"),
    path("accounts/register/", views.register, name="register"),
    # django.contrib.auth.urls' password-reset confirmation route (the token is in the path)
    path("accounts/reset/<uidb64>/<token>/", views.password_reset_confirm, name="password_reset_confirm"),
    path("boom/", views.boom, name="boom"),
    path("page/", views.page, name="page"),
    path("login-as/<str:username>/", views.login_as, name="login-as"),
    path("static/app.css", views.home),
]
