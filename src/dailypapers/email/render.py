"""Digest and subscription messages: text and HTML bodies (inline CSS, no scripts) and the
RFC 8058 headers.

Bodies are rendered with placeholders for the per-subscriber links, so subscribers with the
same content share one rendering (``Rendered.personalise`` fills the links in).
"""

from __future__ import annotations

import base64
import functools
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from dailypapers.email import tokens
from dailypapers.email.digests import Digest
from dailypapers.mailer import Prepared, new_message
from dailypapers.render import latex
from dailypapers.settings import Settings
from dailypapers.urls import safe_url
from dailypapers.web.render import author_line, excerpt

UNSUBSCRIBE = "@@UNSUBSCRIBE_URL@@"
PREFERENCES = "@@PREFERENCES_URL@@"
TO = "to@placeholder.invalid"
MESSAGE_ID = "message-id@placeholder.invalid"
TEXT_BODY, HTML_BODY = "@@TEXT_BODY@@", "@@HTML_BODY@@"
Paper = tuple[str, str, tuple[str, ...], str, int]
ENV = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parents[1] / "web" / "templates"),
    autoescape=select_autoescape(["html"], default_for_string=False, default=False),
    auto_reload=False,
    keep_trailing_newline=True,
)
ENV.filters.update(excerpt=excerpt, author_line=author_line, safe_url=safe_url)
# Abstracts as plain text: ``\emph{x}`` is ``x``, ``\$`` a dollar (render/latex.py).
ENV.filters["tex_text"] = functools.partial(latex.to_text, dollar="$")


@dataclass(frozen=True, slots=True)
class Rendered:
    """A digest's subject and bodies with link placeholders, and the message's MIME skeleton."""

    subject: str
    text: str
    html: str
    skeleton: bytes

    def personalise(self, unsubscribe_url: str, preferences_url: str) -> tuple[str, str]:
        """The text and HTML bodies with one subscriber's links."""

        def fill(body: str) -> str:
            return body.replace(UNSUBSCRIBE, unsubscribe_url).replace(PREFERENCES, preferences_url)

        return fill(self.text), fill(self.html)


def _skeleton(settings: Settings, subject: str) -> bytes:
    """The whole message flattened once by the email package, with placeholders for the
    recipient, the Message-ID, the unsubscribe link and the base64 bodies."""
    message = new_message(settings, to=TO, subject=subject, text=TEXT_BODY)
    message.add_alternative(HTML_BODY, subtype="html")
    message.replace_header("Message-ID", f"<{MESSAGE_ID}>")
    for part in message.iter_parts():
        part.replace_header("Content-Transfer-Encoding", "base64")
    message["List-Unsubscribe"] = f"<{UNSUBSCRIBE}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message["Precedence"] = "bulk"
    return message.as_bytes(policy=SMTP)


def heading(settings: Settings, digest: Digest) -> str:
    """``Trending papers for Jun 8, 2026`` (or for a week)."""
    return f"Trending papers for {digest.label}"


@functools.lru_cache(maxsize=20_000)
def _block(
    kind: str, base: str, site_name: str, row: Paper, reasons: tuple[str, ...], number: int
) -> str:
    """One paper's text or HTML block (papers repeat across digests: rendered once)."""
    e = {
        "id": row[0],
        "title": row[1],
        "authors": list(row[2]),
        "abstract": row[3],
        "upvotes": row[4],
    }
    template = ENV.get_template(f"email/_paper.{kind}")
    html = template.render(e=e, reasons=reasons, number=number, base=base, site_name=site_name)
    return Markup(html) if kind == "html" else html  # noqa: S704 - autoescaped template output


def _paper(row: Any) -> Paper:
    return (row["id"], row["title"], tuple(row["authors"]), row["abstract"], int(row["upvotes"]))


def render(
    settings: Settings, digest: Digest, skeletons: dict[str, bytes] | None = None
) -> Rendered:
    """Render a digest with placeholder links (``skeletons``: MIME skeletons by subject,
    shared by the digests of one run)."""
    base = settings.base_url.rstrip("/")
    context: dict[str, Any] = {
        "digest": digest,
        "site_name": settings.site_name,
        "base": base,
        "heading": heading(settings, digest),
        "unsubscribe_url": UNSUBSCRIBE,
        "preferences_url": PREFERENCES,
    }
    bodies = []
    for kind in ("txt", "html"):
        trending = [
            _block(kind, base, settings.site_name, _paper(e), (), n)
            for n, e in enumerate(digest.trending, 1)
        ]
        picks = [
            _block(kind, base, settings.site_name, _paper(p.row), tuple(p.reasons), 0)
            for p in digest.picks
        ]
        template = ENV.get_template(f"email/digest.{kind}")
        bodies.append(template.render(context, trending=trending, picks=picks))
    subject = f"{settings.site_name}: {context['heading']}"
    skeletons = {} if skeletons is None else skeletons
    if subject not in skeletons:
        skeletons[subject] = _skeleton(settings, subject)
    return Rendered(subject, bodies[0], bodies[1], skeletons[subject])


def preview_html(settings: Settings, digest: Digest, subscription: Any) -> str:
    """The HTML body a subscriber would get, with their real links (browser preview)."""
    _, html = render(settings, digest).personalise(
        tokens.unsubscribe_url(settings, subscription),
        tokens.preferences_url(settings, subscription),
    )
    return html


def digest_message(settings: Settings, rendered: Rendered, subscription: Any) -> Prepared:
    """The multipart digest for one subscriber (with RFC 8058 one-click unsubscribe headers),
    made by filling the rendered skeleton in: no MIME work per subscriber."""
    unsubscribe = tokens.unsubscribe_url(settings, subscription)
    text, html = rendered.personalise(unsubscribe, tokens.preferences_url(settings, subscription))
    sender = parseaddr(settings.mail_from)[1]
    domain = sender.rpartition("@")[2] or "localhost"
    header = f"<{unsubscribe}>"
    if settings.digest_unsubscribe_mailto:
        header += f", <mailto:{settings.digest_unsubscribe_mailto}?subject=unsubscribe>"
    data = (
        rendered.skeleton.replace(b"<" + UNSUBSCRIBE.encode() + b">", header.encode())
        .replace(TO.encode(), str(subscription["email"]).encode())
        .replace(MESSAGE_ID.encode(), f"{uuid.uuid4().hex}@{domain}".encode())
        .replace(TEXT_BODY.encode(), _base64(text))
        .replace(HTML_BODY.encode(), _base64(html))
    )
    return Prepared(sender, str(subscription["email"]), data)


def _base64(body: str) -> bytes:
    # smtplib sends bytes as they are: the lines must already end with CRLF.
    raw = base64.b64encode(body.encode())
    return b"\r\n".join(raw[i : i + 76] for i in range(0, len(raw), 76))


def message_id(prepared: Prepared) -> str:
    """The Message-ID of a prepared message (recorded with its delivery)."""
    start = prepared.data.index(b"Message-ID: ") + len(b"Message-ID: ")
    return prepared.data[start : prepared.data.index(b"\r\n", start)].decode()


def confirmation_message(settings: Settings, subscription: Any) -> EmailMessage:
    """The double opt-in message with its timed link."""
    link = tokens.url(
        settings, f"/subscribe/confirm?token={tokens.confirm_token(settings, subscription)}"
    )
    text = ENV.get_template("email/confirm.txt").render(
        site_name=settings.site_name,
        period=subscription["period"],
        link=link,
        hours=settings.email_token_hours,
    )
    return new_message(
        settings,
        to=subscription["email"],
        subject=f"Confirm your {settings.site_name} digest subscription",
        text=text,
    )


def already_subscribed_message(settings: Settings, subscription: Any) -> EmailMessage:
    """Sent when someone subscribes an address that is already subscribed."""
    text = ENV.get_template("email/already.txt").render(
        site_name=settings.site_name,
        preferences_url=tokens.preferences_url(settings, subscription),
        unsubscribe_url=tokens.unsubscribe_url(settings, subscription),
    )
    return new_message(
        settings,
        to=subscription["email"],
        subject=f"Your {settings.site_name} digest subscription",
        text=text,
    )
