"""The tracking policy: may this interaction become a contact activity? (B1)

One pluggable decision. The default (``ConsentAgreementPolicy``) asks "does the
contact, at the moment of the interaction, hold an active agreement to the consent
that governs this email?" (the email's own ``tracking_consent_id``, else the
``tracking`` consent). An integrator replaces it in every deployment shape with the
setting ``TIDINGS_CONSENT_POLICY=module:object``: the web process, the writer process
and the workers load it through ``load_policy``, once per runtime
(``tracking_policy``). ``object`` is a ``TrackingPolicy``, or a class or function
that makes one when called without arguments.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session

from tidings.consent.models import TRACKING_CONSENT, Consent, ConsentAgreement
from tidings.db import pg_arrays
from tidings.db.base import driver_time

if TYPE_CHECKING:
    from tidings.runtime import Runtime

Subject = tuple[int, int]  # (contact_id, email_id)
# The emails table, named rather than imported: emails name their consent, not the
# other way round.
EMAILS = "emails"


class TrackingPolicy(Protocol):
    """Decides, per interaction, whether it is logged against the contact."""

    def allowed(
        self, session: Session, subjects: Iterable[Subject], at: datetime
    ) -> dict[Subject, int | None]:
        """For each allowed (contact, email): the consent id it is tracked under.

        Subjects missing from the answer are counted anonymously only. Called by
        the tracking writer once per batch, inside the batch's transaction.
        """
        ...


class PolicyError(ValueError):
    """``TIDINGS_CONSENT_POLICY`` does not name a usable policy."""


def load_policy(spec: str) -> TrackingPolicy:
    """The policy ``spec`` names (``module:object``), the default when empty.

    Raises ``PolicyError`` saying what is wrong: a start-up error, never a failure
    at the first click.
    """
    spec = spec.strip()
    if not spec:
        return ConsentAgreementPolicy()
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise PolicyError(
            f"TIDINGS_CONSENT_POLICY={spec!r}: expected module:object, "
            "e.g. mypackage.policies:OnlyCustomers"
        )
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise PolicyError(
            f"TIDINGS_CONSENT_POLICY={spec!r}: cannot import {module_name}: {exc}"
        ) from exc
    for name in attribute.split("."):
        try:
            found = getattr(found, name)
        except AttributeError:
            raise PolicyError(
                f"TIDINGS_CONSENT_POLICY={spec!r}: {module_name} has no {attribute}"
            ) from None
    policy = found
    if isinstance(found, type) or not callable(getattr(found, "allowed", None)):
        if not callable(found):
            raise PolicyError(f"TIDINGS_CONSENT_POLICY={spec!r}: not a policy")
        try:
            policy = found()
        except Exception as exc:
            raise PolicyError(
                f"TIDINGS_CONSENT_POLICY={spec!r}: making the policy failed: {exc}"
            ) from exc
    if not callable(getattr(policy, "allowed", None)):
        raise PolicyError(
            f"TIDINGS_CONSENT_POLICY={spec!r}: the policy has no allowed(session, subjects, at)"
        )
    result: TrackingPolicy = policy
    return result


def _configured(runtime: Runtime) -> TrackingPolicy:
    return load_policy(runtime.settings.consent_policy)


def tracking_policy(runtime: Runtime) -> TrackingPolicy:
    """The policy this runtime's settings name, loaded on first use."""
    return runtime.shared(_configured)


class ConsentAgreementPolicy:
    """Default policy: an active agreement to the governing consent, given no later
    than ``at``.

    One statement per batch, written per dialect and run on the driver's cursor: the
    tracking writer asks for every batch it writes (bench/README.md, clicks).
    """

    def allowed(
        self, session: Session, subjects: Iterable[Subject], at: datetime
    ) -> dict[Subject, int | None]:
        """Consent id per allowed subject; locks the agreements read (FOR SHARE on
        PostgreSQL) so a concurrent revocation waits and then deletes what we add."""
        wanted = set(subjects)
        if not wanted:
            return {}
        conn = session.connection()
        dialect = conn.dialect.name
        m = "?" if dialect == "sqlite" else "%s"
        email_ids = sorted({email_id for _, email_id in wanted})
        contact_ids = sorted({contact_id for contact_id, _ in wanted})
        if dialect == "sqlite":
            emails_in = "IN (" + ", ".join([m] * len(email_ids)) + ")"
            contacts_in = "IN (" + ", ".join([m] * len(contact_ids)) + ")"
            lock = ""
            params: tuple[Any, ...] = (TRACKING_CONSENT, *email_ids, *contact_ids)
        else:
            # Array parameters: one statement text, planned once per connection; each
            # array one text literal, which psycopg passes on faster than a list.
            emails_in = contacts_in = "= ANY(%s::bigint[])"
            lock = " FOR SHARE OF a"
            params = (TRACKING_CONSENT, pg_arrays.ints(email_ids), pg_arrays.ints(contact_ids))
        # Only placeholders and our own table names are formatted in; values are
        # parameters.
        statement = (
            f"SELECT a.contact_id, e.id, a.consent_id FROM {EMAILS} e "  # noqa: S608
            f"JOIN {ConsentAgreement.__tablename__} a ON a.consent_id = COALESCE("
            f"e.tracking_consent_id, (SELECT c.id FROM {Consent.__tablename__} c "
            f"WHERE c.code_name = {m})) "
            f"WHERE e.id {emails_in} AND a.contact_id {contacts_in} "
            f"AND a.revoked_at IS NULL AND a.given_at <= {m}{lock}"
        )
        params += (driver_time(dialect, at),)
        # On the driver's own cursor: SQLAlchemy's execution context and result
        # object cost the tracking writer more than the query did.
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(statement, params)
            rows = cursor.fetchall()
        finally:
            cursor.close()
        result: dict[Subject, int | None] = {}
        for contact_id, email_id, consent_id in rows:
            if (contact_id, email_id) in wanted:
                result[(contact_id, email_id)] = consent_id
        return result
