"""A real SMTP server (aiosmtpd) on a free local port for the tests that send mail: the `smtp` fixture (in
tests/conftest.py) points Django's SMTP backend at it and yields its mailbox."""

import email
import email.policy
import socket

import pytest
from aiosmtpd.controller import Controller


class Mailbox:
    """An aiosmtpd handler that keeps what it receives, or refuses it while `refuse` holds an SMTP answer."""

    def __init__(self):
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.refuse: str | None = None

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return self.refuse
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp(settings):
    """A real SMTP server on 127.0.0.1, and the settings pointing the SMTP backend at it."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = controller.hostname, controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.DEFAULT_FROM_EMAIL = "crm@xinghe-mall.cn"
    settings.FIDELIS_SITE_URL = "https://crm.xinghe-mall.cn"
    yield mailbox
    controller.stop()
