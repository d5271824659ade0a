"""Delivering digests one by one: claim, send, mark, with failures counted and bounces
suspending subscriptions (see ``send.py`` for the exactly-once design).

The ``sent`` mark of a message is committed in the same transaction as the claim of the next
one (and at the end of the run), so each message costs one transaction, and a crash still
leaves at most one row whose outcome is unknown.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import RowMapping

from dailypapers.email.render import Rendered, digest_message, message_id
from dailypapers.mailer import MailError, MailSession
from dailypapers.settings import Settings
from dailypapers.storage import subscriptions as repo

log = logging.getLogger("dailypapers.digest")


@dataclass(slots=True)
class SendReport:
    """What a run did."""

    key: str
    due: int = 0
    sent: int = 0
    empty: int = 0
    skipped: int = 0
    failed: int = 0
    suspended: int = 0
    stuck: int = 0
    released: int = 0
    groups: int = 0
    note: str = ""
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the log or the terminal."""
        if self.note:
            return f"{self.key}: {self.note}"
        return (
            f"{self.key}: {self.due} due, {self.sent} sent, {self.empty} empty (not sent), "
            f"{self.skipped} already claimed, {self.failed} failed, {self.suspended} suspended, "
            f"{self.stuck} stuck in 'sending' from an interrupted run"
            + (f", {self.released} released for re-sending" if self.released else "")
        )


class Sender:
    """Sends the digests of one run over one SMTP session."""

    def __init__(
        self, engine: Engine, settings: Settings, mail: MailSession, report: SendReport
    ) -> None:
        self.engine, self.settings, self.mail, self.report = engine, settings, mail, report
        self._unmarked: RowMapping | None = None  # sent, its row still says 'sending'

    def _mark(self, conn: Connection) -> None:
        sub = self._unmarked
        if sub is not None:
            ids = [int(sub["id"])]
            repo.mark_sent(conn=conn, subscription_ids=ids, period_key=self.report.key)
            if sub["bounces"]:
                repo.reset_bounces(conn=conn, subscription_ids=ids)

    def deliver(self, sub: RowMapping, rendered: Rendered) -> None:
        """Claim, send and record one digest; never raises for one subscriber's failure, and
        never leaves a failed message's row in ``sending``."""
        report = self.report
        claimed = False
        try:
            message = digest_message(self.settings, rendered, sub)
            with self.engine.begin() as conn:
                self._mark(conn)
                claimed = repo.claim(
                    conn=conn,
                    subscription_id=int(sub["id"]),
                    period_key=report.key,
                    message_id=message_id(message),
                )
            self._unmarked = None
            if not claimed:
                report.skipped += 1
                return
            self.mail.send_with_retry(message)
        except MailError as exc:
            self._failed(sub, exc)
            return
        except Exception as exc:  # one bad subscriber must not stop the run
            log.exception("digest to %s failed", sub["email"])
            error = MailError(f"{type(exc).__name__}: {exc}", permanent=True)
            if claimed:
                self._failed(sub, error)
            else:
                report.failed += 1
                report.errors.append(f"{sub['email']}: {error}")
            return
        self._unmarked = sub
        report.sent += 1

    def _failed(self, sub: RowMapping, exc: MailError) -> None:
        """Record a claimed message that was not accepted: ``failed`` when retrying cannot
        help (a bounce also counts against the subscription), else released for a later run."""
        report, sid = self.report, int(sub["id"])
        report.failed += 1
        report.errors.append(f"{sub['email']}: {exc}")
        log.warning("digest to %s failed: %s", sub["email"], exc)
        with self.engine.begin() as conn:
            if exc.permanent:
                repo.finish(
                    conn=conn,
                    subscription_id=sid,
                    period_key=report.key,
                    status="failed",
                    error=str(exc)[:1000],
                )
                if exc.bounce and repo.record_bounce(
                    conn=conn, subscription_id=sid, max_bounces=self.settings.digest_max_bounces
                ):
                    report.suspended += 1
            else:  # not accepted: release the claim so a later run tries again
                repo.release(conn=conn, subscription_ids=[sid], period_key=report.key)

    def close(self) -> None:
        """Record the last message as sent."""
        with self.engine.begin() as conn:
            self._mark(conn)
        self._unmarked = None
