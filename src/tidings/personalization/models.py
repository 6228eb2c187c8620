"""Sites, their widgets, and the opaque visitor keys of contacts who clicked through."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import Base, BigId, UTCDateTime, utcnow


class Site(Base):
    """A website that loads the snippet: its origin (``https://www.example.com``) and
    the public key it names itself with (``data-site``)."""

    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    origin: Mapped[str] = mapped_column(String(300), unique=True)
    site_key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SiteWidget(Base):
    """A block of a site's pages (``[data-tidings-widget=key]``): default HTML and
    variants ``[{condition, html}]``, the shape of an email's widgets."""

    __tablename__ = "site_widgets"
    __table_args__ = (UniqueConstraint("site_id", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    html: Mapped[str] = mapped_column(Text)
    variants: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SiteVisitor(Base):
    """The random key a contact's visitor tokens carry (never their id). Erasing the
    contact deletes it, so their tokens stop working; ``issued_at`` ties it to the
    consent agreement it was issued under (``visitors``)."""

    __tablename__ = "site_visitors"

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    visitor_key: Mapped[bytes] = mapped_column(LargeBinary(16), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
