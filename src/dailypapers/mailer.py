"""Sending mail: SMTP (STARTTLS, implicit TLS or plain loopback) through the standard library.

With no SMTP host configured, messages are written to ``<data_dir>/outbox/`` as ``.eml``
files and their first link is logged, so a development site is usable without a mail server.
Errors are split into transient (worth retrying later) and permanent (the address is bad).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import smtplib
import ssl
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr

from dailypapers.settings import Settings

log = logging.getLogger("dailypapers.mail")
LINK = re.compile(r"https?://\S+")


@dataclass(frozen=True, slots=True)
class Prepared:
    """A message already flattened to bytes (digests build thousands from one template)."""

    sender: str
    to: str
    data: bytes


class MailError(Exception):
    """A message could not be sent; ``permanent`` says whether retrying can help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


def new_message(settings: Settings, *, to: str, subject: str, text: str) -> EmailMessage:
    """A plain-text message from the site's address with Date and Message-ID set."""
    message = EmailMessage()
    name, address = parseaddr(settings.mail_from)
    message["From"] = formataddr((name, address)) if name else address
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    domain = address.rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(idstring=uuid.uuid4().hex[:12], domain=domain)
    message.set_content(text)
    return message


def _classify(exc: Exception) -> MailError:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        permanent = bool(codes) and all(500 <= code < 600 for code in codes)
        return MailError(f"recipient refused: {exc.recipients}", permanent=permanent)
    if isinstance(exc, smtplib.SMTPResponseException):
        raw = exc.smtp_error
        detail = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw or "")
        return MailError(f"SMTP {exc.smtp_code} {detail}".strip(), permanent=exc.smtp_code >= 500)
    return MailError(f"{type(exc).__name__}: {exc}", permanent=False)


class Mailer:
    """Sends messages with the configured SMTP server (or to the outbox folder)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        if s.smtp_security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                s.smtp_host, s.smtp_port, timeout=s.smtp_timeout, context=context
            )
        else:
            client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
            if s.smtp_security == "starttls":
                client.starttls(context=context)
        if s.smtp_user:
            client.login(s.smtp_user, s.smtp_password)
        return client

    @contextlib.contextmanager
    def session(self) -> Iterator[MailSession]:
        """One SMTP connection for many messages (reconnects after a dropped connection)."""
        mail_session = MailSession(self)
        try:
            yield mail_session
        finally:
            mail_session.close()

    def send(self, message: EmailMessage) -> None:
        """Send one message; raises MailError."""
        with self.session() as mail_session:
            mail_session.send(message)


class MailSession:
    """A lazily opened SMTP connection reused across messages."""

    def __init__(self, mailer: Mailer) -> None:
        self.mailer = mailer
        self.client: smtplib.SMTP | None = None

    def send(self, message: EmailMessage | Prepared) -> None:
        """Send one message over the shared connection; raises MailError."""
        settings = self.mailer.settings
        if not settings.smtp_host:
            self._to_outbox(message)
            return
        try:
            if self.client is None:
                self.client = self.mailer._connect()
            if isinstance(message, Prepared):
                self.client.sendmail(message.sender, [message.to], message.data)
            else:
                self.client.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            error = _classify(exc)
            if not isinstance(exc, smtplib.SMTPRecipientsRefused):
                self.close()  # the connection may be unusable; the next send reconnects
            raise error from exc

    def send_with_retry(self, message: EmailMessage | Prepared, *, attempts: int = 4) -> None:
        """Send, retrying transient failures with exponential backoff (0.5, 1, 2 s)."""
        for attempt in range(attempts):
            try:
                self.send(message)
                return
            except MailError as exc:
                if exc.permanent or attempt == attempts - 1:
                    raise
                time.sleep(0.5 * 2**attempt)

    def _to_outbox(self, message: EmailMessage | Prepared) -> None:
        if isinstance(message, Prepared):
            from email import message_from_bytes, policy

            parsed = message_from_bytes(message.data, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            message = parsed
        folder = self.mailer.settings.outbox_dir
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
        (folder / name).write_bytes(message.as_bytes())
        body = message.get_body(("plain",))
        links = LINK.findall(body.get_content() if body is not None else "")
        log.warning(
            "no SMTP server configured: mail to %s saved as %s%s",
            message["To"],
            folder / name,
            f" (link: {links[0]})" if links else "",
        )

    def close(self) -> None:
        """Close the connection if open."""
        if self.client is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.client.quit()
            self.client = None
