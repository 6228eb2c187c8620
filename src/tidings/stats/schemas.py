"""Read models of an email's statistics (SPEC B2), as the API answers them and the
Statistics tab shows them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from tidings.values import Timestamp


class Rate(BaseModel):
    """A rate with its numerator and denominator stated; ``value`` is null with nothing
    to divide by."""

    value: float | None
    numerator: int
    denominator: int
    of: str = Field(description="what the denominator counts: delivered, opens_unique, sent")

    @classmethod
    def of_counts(cls, numerator: int, denominator: int, over: str) -> Rate:
        """``numerator / denominator`` rounded to four places."""
        value = round(numerator / denominator, 4) if denominator else None
        return cls(value=value, numerator=numerator, denominator=denominator, of=over)


class Rates(BaseModel):
    """Every rate of SPEC B2."""

    open_rate: Rate
    click_rate: Rate
    click_to_open_rate: Rate
    unsubscribe_rate: Rate
    bounce_rate: Rate
    complaint_rate: Rate


class LinkFigures(BaseModel):
    """One link position's clicks; ``url_clicks_total`` rolls up the positions that
    share its URL."""

    link_id: int
    position: int
    url: str
    clicks_total: int
    clicks_unique: int
    clicks_automated: int
    url_clicks_total: int


class Reconciliation(BaseModel):
    """Why contact activities do not match the click totals."""

    clicks_total: int
    clicks_identified: int
    clicks_anonymous: int
    clicks_automated: int
    explanation: str


class ReasonCounts(BaseModel):
    """Automated interactions by the reason they were told from people's (B7)."""

    head: int = Field(0, description="HEAD requests (link checkers)")
    user_agent: int = Field(0, description="a scanner, bot or empty user agent")
    ip_range: int = Field(0, description="from a mail security scanner's network")
    honeypot: int = Field(0, description="the hidden link, and what came with it")
    burst: int = Field(0, description="every link of a message within seconds")
    prefetch: int = Field(0, description="an open loaded by a privacy proxy")


class AutomatedReasons(BaseModel):
    """``automated_reasons``: automated opens and clicks per reason."""

    opens: ReasonCounts = Field(default_factory=ReasonCounts)
    clicks: ReasonCounts = Field(default_factory=ReasonCounts)


class EmailStatistics(BaseModel):
    """Counters, rates, per-link figures and reconciliation of one email."""

    email_id: int
    sent: int
    delivered: int
    bounced_soft: int
    bounced_hard: int
    opens_total: int
    opens_unique: int
    opens_automated: int
    clicks_total: int
    clicks_unique: int
    clicks_identified: int
    clicks_anonymous: int
    clicks_automated: int
    unsubscribes: int
    complaints: int
    automated_reasons: AutomatedReasons = Field(default_factory=AutomatedReasons)
    rates: Rates
    links: list[LinkFigures]
    reconciliation: Reconciliation


class TimelinePoint(BaseModel):
    """Human opens and clicks in one hour or day."""

    at: Timestamp
    opens: int
    clicks: int


class Timeline(BaseModel):
    """``GET /emails/{id}/timeline``: buckets, oldest first."""

    granularity: str
    items: list[TimelinePoint]
