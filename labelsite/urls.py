"""Root URLs: accounts, Django admin, the API and each app's pages."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpResponse, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path

from projects.tenancy.forms import ThrottledAuthenticationForm
from projects.tenancy.views import ThrottledPasswordResetView


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


def favicon(request):
    """Browsers ask for /favicon.ico on their own, whatever the page links; send them to the static icon."""
    return HttpResponseRedirect(static("labelsite/favicon.ico"))


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon),
    path("admin/", admin.site.urls),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=ThrottledAuthenticationForm, redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/password_reset/", ThrottledPasswordResetView.as_view(), name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("labelsite.api_urls")),
    path("", include("projects.urls")),
    path("o/<slug:org>/<slug:ws>/projects/<uuid:project>/review/", include("review.urls")),
    path("", include("exports.urls")),
    path("", include("labeling.urls")),
    path("", include("labeling.media_urls")),
]

handler403 = "projects.tenancy.views.permission_denied"
