"""Sending mail: SMTP (STARTTLS, implicit TLS or plain loopback) through the standard library.

With no SMTP host configured, messages are written to ``<data_dir>/outbox/`` as ``.eml``
files and their first link is logged, so a development site is usable without a mail server.
Errors are split into transient (worth retrying later) and permanent (retrying cannot help);
only a recipient's own 5xx refusal (RCPT TO) counts as its bounce. After any failure of one
message the connection is reset (RSET, or closed and reopened by the next message), so one
bad message never poisons the next recipient's transaction. Addresses with non-ASCII
characters before the ``@`` are sent with SMTPUTF8 when the server offers it and refused
before ``MAIL FROM`` otherwise.

Mail sent on request (sign-up, reset and confirmation links) goes through a ``MailQueue``: a
worker thread sends it after the answer, so a page never waits for SMTP and takes as long
for a registered address as for an unknown one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import queue
import re
import smtplib
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, getaddresses, make_msgid, parseaddr

from dailypapers.settings import Settings

log = logging.getLogger("dailypapers.mail")
LINK = re.compile(r"https?://\S+")
MAX_LINE = 998  # bytes in one line of a message (RFC 5322)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A message already flattened to bytes (digests build thousands from one template)."""

    sender: str
    to: str
    data: bytes


class MailError(Exception):
    """A message could not be sent; ``permanent`` says whether retrying can help, ``bounce``
    whether the recipient's own server refused the address (5xx to RCPT TO)."""

    def __init__(self, message: str, *, permanent: bool, bounce: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.bounce = bounce


def needs_smtputf8(address: str) -> bool:
    """Whether an address can only be sent with SMTPUTF8 (non-ASCII characters in it)."""
    return not address.isascii()


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
        # The only bounce: the recipient's server said 5xx to RCPT TO for this address.
        codes = [code for code, _ in exc.recipients.values()]
        permanent = bool(codes) and all(500 <= code < 600 for code in codes)
        return MailError(
            f"recipient refused: {exc.recipients}", permanent=permanent, bounce=permanent
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        # MAIL FROM or DATA refused, or a broken session: not the recipient's fault.
        raw = exc.smtp_error
        detail = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw or "")
        return MailError(f"SMTP {exc.smtp_code} {detail}".strip(), permanent=exc.smtp_code >= 500)
    if isinstance(exc, smtplib.SMTPException | OSError):
        return MailError(f"{type(exc).__name__}: {exc}", permanent=False)
    # Anything else (an address or message smtplib cannot encode...): retrying cannot help.
    return MailError(f"{type(exc).__name__}: {exc}", permanent=True)


def readable(message: EmailMessage) -> None:
    """Re-encode the text parts of ``message`` as 8bit where every line fits (998 bytes), so
    a link in an outbox ``.eml`` file can be copied as it is (quoted-printable splits it)."""
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        text = part.get_content()
        if max((len(line.encode()) for line in text.splitlines()), default=0) <= MAX_LINE:
            part.set_content(text, subtype=part.get_content_subtype(), cte="8bit")


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
        client.ehlo_or_helo_if_needed()
        if s.smtp_user:
            client.login(s.smtp_user, s.smtp_password)
        return client

    def smtputf8(self) -> bool:
        """Whether mail can go to addresses with non-ASCII characters before the ``@``: the
        outbox folder can hold them; an SMTP server must offer SMTPUTF8 (asked each time:
        only such addresses need it, and the answer must follow the server's)."""
        if not self.settings.smtp_host:
            return True
        try:
            client = self._connect()
        except (smtplib.SMTPException, OSError):
            return False  # unknown for now: refuse rather than fail later
        offered = bool(client.has_extn("smtputf8"))
        with contextlib.suppress(smtplib.SMTPException, OSError):
            client.quit()
        return offered

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
        """Send one message over the shared connection; raises MailError (only MailError),
        after which the connection is ready for the next message."""
        settings = self.mailer.settings
        if not settings.smtp_host:
            self._to_outbox(message)
            return
        try:
            if self.client is None:
                self.client = self.mailer._connect()
            client = self.client
            if isinstance(message, Prepared):
                addresses = [message.sender, message.to]
            else:
                fields = [message.get("From", ""), *message.get_all("To", [])]
                addresses = [address for _, address in getaddresses([str(f) for f in fields])]
            international = any(needs_smtputf8(a) for a in addresses)
            if international and not client.has_extn("smtputf8"):
                raise MailError(
                    "the SMTP server does not offer SMTPUTF8, needed for a non-ASCII address",
                    permanent=True,
                )
            if isinstance(message, Prepared):
                options = ["SMTPUTF8"] if international else []
                client.sendmail(message.sender, [message.to], message.data, mail_options=options)
            else:
                client.send_message(message)
        except MailError:
            raise  # refused before any command: the connection is untouched
        except Exception as exc:  # any failure of this one message
            self._reset(exc)
            raise _classify(exc) from exc

    def _reset(self, exc: Exception) -> None:
        """Leave no half-finished transaction for the next message: RSET after an SMTP reply,
        otherwise close (the next message reconnects)."""
        replied = smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused
        if self.client is not None and isinstance(exc, replied):
            try:
                self.client.rset()
                return
            except (smtplib.SMTPException, OSError):
                pass
        self.close()

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
        readable(message)
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


class MailQueue:
    """Mail sent on request, handed to a worker thread so the answer never waits for SMTP.

    ``allow(address)`` is asked before each message (the per-recipient limit); a message it
    refuses is dropped. The worker starts with the first message and stops when the queue has
    been empty for a moment, so an idle site holds no thread and no SMTP connection. Messages
    still queued when the process dies are lost: they are links that can be asked for again.
    """

    IDLE = 0.5  # seconds the worker waits for more mail before it stops

    def __init__(self, settings: Settings, allow: Callable[[str], bool] | None = None) -> None:
        self.settings = settings
        self.allow = allow
        self._queue: queue.Queue[EmailMessage] = queue.Queue()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None

    def put(self, message: EmailMessage) -> None:
        """Queue one message for sending after the current request."""
        with self._lock:
            self._queue.put(message)
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="mail-queue", daemon=True)
                self._worker.start()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every queued message has been handled (sent, refused or dropped);
        False when ``timeout`` seconds passed first."""
        done = self._queue.all_tasks_done
        with done:
            return done.wait_for(lambda: self._queue.unfinished_tasks == 0, timeout)

    def _next(self) -> EmailMessage | None:
        try:
            return self._queue.get(timeout=self.IDLE)
        except queue.Empty:
            with self._lock:
                if self._queue.empty():
                    self._worker = None
                    return None
            return self._queue.get()

    def _run(self) -> None:
        with Mailer(self.settings).session() as mail:
            while (message := self._next()) is not None:
                try:
                    to = parseaddr(str(message["To"]))[1] or str(message["To"])
                    if self.allow is None or self.allow(to):
                        mail.send_with_retry(message)
                    else:
                        log.warning("mail to %s not sent: per-recipient limit reached", to)
                except Exception:  # one message must never stop the queue
                    log.exception("mail to %s failed", message["To"])
                finally:
                    self._queue.task_done()
