from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """A person with an account. E-mail is the log-in; membership and roles hang off the user."""

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
