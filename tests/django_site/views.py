from django.contrib.auth import get_user_model, login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("home")


def watch(request: HttpRequest, foss: str, tutorial: str, language: str) -> HttpResponse:
    return HttpResponse(f"{foss}/{tutorial}/{language}")


@csrf_exempt
def register(request: HttpRequest) -> HttpResponse:
    return HttpResponse("registered", status=201 if request.method == "POST" else 200)


def boom(request: HttpRequest) -> HttpResponse:
    raise ValueError("this view always fails")


def page(request: HttpRequest) -> HttpResponse:
    return render(request, "page.html")


def login_as(request: HttpRequest, username: str) -> HttpResponse:
    user, _ = get_user_model().objects.get_or_create(username=username)
    login(request, user)
    return HttpResponse(f"hello {username}")


def password_reset_confirm(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    return HttpResponse("choose a new password")
