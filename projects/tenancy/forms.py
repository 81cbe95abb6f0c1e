"""Forms for accounts and workspace administration."""

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.contrib.auth.models import Group

from core import throttle
from projects.tenancy.roles import ROLE_NAMES

User = get_user_model()


class ThrottledAuthenticationForm(AuthenticationForm):
    """The same message for an unknown user and a wrong password; too many failures block for a while."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": "Too many failed attempts. Wait a few minutes and try again.",
    }

    def clean(self):
        username = self.data.get("username", "")
        if throttle.login_blocked(self.request, username):
            raise forms.ValidationError(self.error_messages["throttled"], code="throttled")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            throttle.login_failed(self.request, username)
            raise
        throttle.login_succeeded(self.request, username)
        return cleaned


class SignupForm(UserCreationForm):
    email = forms.EmailField()
    organization_name = forms.CharField(max_length=120, label="Organization name")

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")


class AcceptInvitationForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username",)


def role_choices():
    return Group.objects.filter(name__in=ROLE_NAMES)


class RoleField(forms.ModelChoiceField):
    def __init__(self, **kwargs):
        super().__init__(queryset=role_choices(), empty_label=None, label="Role", **kwargs)

    def label_from_instance(self, obj):
        return obj.name


class InvitationForm(forms.Form):
    email = forms.EmailField()
    group = RoleField()


class RoleForm(forms.Form):
    group = RoleField()


class WorkspaceForm(forms.Form):
    name = forms.CharField(max_length=120)


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. 'training notebook'.")
