"""Shared model bases: timestamps and random public ids."""

import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def new_public_id() -> str:
    """Return a random, unguessable 16-character id for URLs (64 random bits)."""
    return secrets.token_hex(8)


class TimeStampedModel(models.Model):
    # A default rather than auto_now_add, so that imports can keep a record's original creation time.
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


class PublicIdModel(TimeStampedModel):
    public_id = models.CharField(
        _("public id"), max_length=16, unique=True, default=new_public_id, editable=False
    )

    class Meta:
        abstract = True
