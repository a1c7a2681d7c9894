"""Notifications: an in-app message and an e-mail for each person a governance event concerns.

Both are written in the transaction of the event itself (the e-mail into an outbox), so a
decision and its notices commit together or not at all. :func:`deliver_pending` sends the
outbox afterwards: by SMTP when ``CITYDATA_SMTP_URL`` is set (``smtp://user:pass@host:port``,
``smtps://`` for implicit TLS, ``?starttls=1``), to the console in development, and not at all
otherwise (the messages wait, visible in the app).
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from citydata.access.actors import Actor
from citydata.errors import NotAuthenticated, NotFound
from citydata.settings import Settings
from citydata.storage.database import Database
from citydata.storage.models import Membership, User, utcnow
from citydata.storage.models_access import MailOutbox, Notification

log = logging.getLogger("citydata.mail")
MAX_ATTEMPTS = 5


def notify(
    session: Session,
    users: Iterable[User],
    *,
    kind: str,
    subject: str,
    body: str,
    link: str,
    site_url: str,
) -> int:
    """Queue one notice (in-app + e-mail) per distinct active user; returns how many."""
    seen: set[str] = set()
    for user in users:
        if user is None or user.id in seen or user.state != "active":
            continue
        seen.add(user.id)
        session.add(
            Notification(user_id=user.id, kind=kind, subject=subject[:300], body=body, link=link)
        )
        if user.email:
            text = f"{body}\n\n{site_url.rstrip('/')}{link}\n"
            session.add(MailOutbox(to_addr=user.email, subject=subject[:300], body=text))
    return len(seen)


def org_admins(session: Session, org_id: str) -> list[User]:
    """The data owners of an organisation: its admins."""
    return list(
        session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.organization_id == org_id, Membership.role == "admin")
            .order_by(User.name)
        )
    )


def unread_count(session: Session, actor: Actor) -> int:
    if not actor.user_id:
        return 0
    return int(
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == actor.user_id, Notification.read_at.is_(None))
        )
        or 0
    )


def list_notifications(session: Session, actor: Actor, *, limit: int = 100) -> list[dict[str, Any]]:
    if not actor.user_id:
        raise NotAuthenticated("Sign in to see your notifications")
    rows = session.scalars(
        select(Notification)
        .where(Notification.user_id == actor.user_id)
        .order_by(Notification.created.desc())
        .limit(limit)
    )
    return [
        {
            "id": n.id,
            "created": n.created.isoformat(),
            "kind": n.kind,
            "subject": n.subject,
            "body": n.body,
            "link": n.link,
            "read": n.read_at is not None,
        }
        for n in rows
    ]


def mark_read(session: Session, actor: Actor, notification_id: str | None = None) -> int:
    """Mark one notification (or all of them) read; returns how many changed."""
    if not actor.user_id:
        raise NotAuthenticated("Sign in to see your notifications")
    cond = [Notification.user_id == actor.user_id, Notification.read_at.is_(None)]
    if notification_id is not None:
        if session.get(Notification, notification_id) is None:
            raise NotFound("Notification not found")
        cond.append(Notification.id == notification_id)
    result = session.execute(update(Notification).where(*cond).values(read_at=utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


# -- e-mail delivery -------------------------------------------------------------------------
def _send_smtp(url: str, sender: str, msg: EmailMessage) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "localhost", parts.port
    options = parse_qs(parts.query)
    cls = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
    with cls(host, port or (465 if parts.scheme == "smtps" else 25), timeout=10) as smtp:
        if options.get("starttls", ["0"])[0] in ("1", "true", "yes"):
            smtp.starttls()
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
        smtp.send_message(msg, from_addr=sender)


def deliver_pending(db: Database, settings: Settings, *, limit: int = 100) -> int:
    """Send what the outbox holds; returns how many were sent. Never raises for a bad
    recipient or an unreachable server: the message stays queued with the error."""
    transport = "smtp" if settings.smtp_url else "console" if settings.env == "dev" else ""
    if not transport:
        return 0
    sent = 0
    with db.session() as session:
        queued = list(
            session.scalars(
                select(MailOutbox)
                .where(MailOutbox.sent_at.is_(None), MailOutbox.attempts < MAX_ATTEMPTS)
                .order_by(MailOutbox.created)
                .limit(limit)
            )
        )
        for item in queued:
            msg = EmailMessage()
            msg["From"] = settings.mail_from
            msg["To"] = item.to_addr
            msg["Subject"] = item.subject
            msg.set_content(item.body)
            item.attempts += 1
            try:
                if transport == "smtp":
                    _send_smtp(settings.smtp_url, settings.mail_from, msg)
                else:
                    log.warning(
                        "e-mail (console, not sent) to %s: %s\n%s",
                        item.to_addr,
                        item.subject,
                        item.body,
                    )
            except (OSError, smtplib.SMTPException) as exc:
                item.last_error = str(exc)[:500]
                log.warning("could not send e-mail to %s: %s", item.to_addr, exc)
                continue
            item.sent_at, item.transport = utcnow(), transport
            sent += 1
    return sent
