"""Shared model bases: timestamps and random public ids."""

import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def new_public_id() -> str:
    """Return a random, unguessable 16-character id for URLs (64 random bits)."""
    return secrets.token_hex(8)


def new_public_ids(count: int) -> list[str]:
    """Return `count` ids like new_public_id, drawn in one go (for inserts of many rows)."""
    text = secrets.token_hex(8 * count)
    return [text[i * 16:(i + 1) * 16] for i in range(count)]


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


class IdempotentRequest(models.Model):
    """The answer given to an API write sent with an Idempotency-Key, kept to answer its retries the same way.

    Keyed by the caller (the user of an API token, or the signed-in user) and the key: one caller's key never answers another's.
    """

    caller = models.CharField(_("caller"), max_length=64)
    key = models.CharField(_("idempotency key"), max_length=120)
    fingerprint = models.CharField(_("request fingerprint"), max_length=64,
                                   help_text=_("sha256 of the method, the path and the JSON body"))
    status = models.PositiveSmallIntegerField(_("status"))
    content_type = models.CharField(_("content type"), max_length=100)
    body = models.BinaryField(_("body"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("idempotent request")
        verbose_name_plural = _("idempotent requests")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["caller", "key"], name="idempotent_request_caller_key")]

    def __str__(self) -> str:
        return f"{self.caller[:10]}… {self.key}"
