"""The test-card table and the one rule that decides what a card entry does.

Everything that judges a card (the hosted page, the 3-D Secure step, direct ``POST /payments``)
calls :func:`decide`; nothing else looks at card numbers. The rules, in order:

1. An unknown number declines (``card_declined``).
2. A wrong CVC or expiry declines with ``71015`` (BPC's "input error").
   *Expiry rule*: a card's documented expiry (e.g. ``12/26``) is always accepted, and so is any
   later expiry that has not passed on the gateway's clock, so the table keeps working as its
   fixed dates come near and go by. An earlier or a passed expiry is a wrong one.
   *Shown expiry*: what the payment page and the docs show for every card,
   :func:`shown_expiry`, is never within two years of the gateway's clock: ``12/34`` (the
   table's latest), or December three years on once the clock nears it.
3. Otherwise the table decides: a challenge (3-D Secure page), a success, or a decline.

The rules are applied in two steps: :func:`examine` reads a card entry into
:class:`CardFacts` (what the rules need, without the number or the CVC: is it a test card,
which row, did the CVC match), and :func:`judge` decides on those facts and the gateway's date.
A card token (``gw.card_token``) keeps the facts of its card, so a token payment is decided
like the card, on the day it is used.

The full number and the CVC are never stored, logged or returned: a decision carries only the
brand and the last four digits.
"""

from __future__ import annotations

from datetime import date
from typing import Final, Literal

import attrs

__all__ = [
    "DECLINED_CODE",
    "INPUT_ERROR_CODE",
    "CardFacts",
    "Decision",
    "TestCard",
    "TestCards",
    "brand_of",
    "decide",
    "examine",
    "expiry_accepted",
    "judge",
    "shown_expiry",
]

#: BPC's code for a wrong CVC or expiry [doc].
INPUT_ERROR_CODE: Final = "71015"
#: The code of any other decline [inferred: BPC's generic decline code is unpublished].
DECLINED_CODE: Final = "card_declined"

ThreeDS = Literal["challenge", "frictionless", "attempt", "none"]
Outcome = Literal["approve", "challenge", "decline"]


@attrs.frozen
class TestCard:
    """One row of the contract's test-card table."""

    __test__ = False  # not a pytest test class, despite the name

    number: str
    cvc: str
    exp_month: int
    exp_year: int
    three_ds: ThreeDS
    approves: bool

    @property
    def expiry(self) -> str:
        """The documented expiry as typed on the page: ``MM/YY``."""
        return f"{self.exp_month:02d}/{self.exp_year % 100:02d}"

    @property
    def last4(self) -> str:
        """The last four digits."""
        return self.number[-4:]


class TestCards:
    """The sandbox's test cards (BPC's published table); CVC ``123`` for all."""

    __test__ = False

    #: 3-D Secure challenge (the page shows "succeed" / "fail"), then success.
    SUCCESS_CHALLENGE: Final = TestCard("5555555555555599", "123", 12, 2034, "challenge", True)
    #: Frictionless 3-D Secure, success.
    SUCCESS_FRICTIONLESS: Final = TestCard(
        "4111111111111111", "123", 12, 2026, "frictionless", True
    )
    #: Frictionless 3-D Secure, declined.
    DECLINED: Final = TestCard("5168494895055780", "123", 12, 2026, "frictionless", False)
    #: 3-D Secure "attempt", success.
    SUCCESS_ATTEMPT: Final = TestCard("4000001111111118", "123", 12, 2030, "attempt", True)
    #: No 3-D Secure (SSL), success.
    SUCCESS_NO_3DS: Final = TestCard("4444555511113333", "123", 12, 2026, "none", True)

    ALL: Final = (
        SUCCESS_CHALLENGE,
        SUCCESS_FRICTIONLESS,
        DECLINED,
        SUCCESS_ATTEMPT,
        SUCCESS_NO_3DS,
    )


_BY_NUMBER: dict[str, TestCard] = {card.number: card for card in TestCards.ALL}


@attrs.frozen
class Decision:
    """What a card entry leads to. Holds no secret card data."""

    outcome: Outcome
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    three_ds: ThreeDS | None = None
    code: str | None = None
    message: str | None = None


def brand_of(number: str) -> str:
    """The card scheme from the number's prefix (enough for display)."""
    if number.startswith("4"):
        return "visa"
    two, four = int(number[:2] or 0), int(number[:4] or 0)
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return "mastercard"
    if two in (34, 37):
        return "amex"
    if number.startswith(("2200", "2201", "2202", "2203", "2204")):
        return "mir"
    return "unknown"


def _passed(month: int, year: int, today: date) -> bool:
    # A card is valid through the last day of its expiry month.
    return (year, month) < (today.year, today.month)


def expiry_accepted(card: TestCard, month: int, year: int, today: date) -> bool:
    """The expiry rule (see the module docstring)."""
    return _expiry_ok((card.exp_month, card.exp_year), month, year, today)


def _expiry_ok(documented: tuple[int, int], month: int, year: int, today: date) -> bool:
    if (month, year) == documented:
        return True
    return (year, month) >= (documented[1], documented[0]) and not _passed(month, year, today)


def shown_expiry(today: date) -> str:
    """The expiry shown for every test card on ``today`` (``MM/YY``): ``12/34``, or December
    three years on when that is later; always accepted (see the module docstring)."""
    latest = max(card.exp_year for card in TestCards.ALL)
    return f"12/{max(latest, today.year + 3) % 100:02d}"


@attrs.frozen(kw_only=True)
class CardFacts:
    """What the rules need of a card entry, without its number or CVC.

    Attributes:
        brand: the scheme, from the number's prefix.
        last4: the last four digits.
        exp_month: the expiry month entered.
        exp_year: the expiry year entered (four digits).
        card: the test card it is (its row of the table: three_ds, approves, documented expiry),
            or None for a number the table does not have.
        cvc_matches: the CVC entered was the test card's.
    """

    brand: str
    last4: str
    exp_month: int
    exp_year: int
    card: _Row | None
    cvc_matches: bool


@attrs.frozen
class _Row:
    """A test card's row without its number (kept by CardFacts, and so by card tokens)."""

    exp_month: int
    exp_year: int
    three_ds: ThreeDS
    approves: bool


def examine(number: str, *, exp_month: int, exp_year: int, cvc: str) -> CardFacts:
    """Read a card entry into the facts :func:`judge` decides on.

    Args:
        number: digits only.
        exp_month: 1-12.
        exp_year: four digits.
        cvc: as entered.

    Returns:
        The facts; neither the number nor the CVC is in them.
    """
    card = _BY_NUMBER.get(number)
    row = None
    if card is not None:
        row = _Row(card.exp_month, card.exp_year, card.three_ds, card.approves)
    return CardFacts(
        brand=brand_of(number),
        last4=number[-4:],
        exp_month=exp_month,
        exp_year=exp_year,
        card=row,
        cvc_matches=card is not None and cvc == card.cvc,
    )


def judge(facts: CardFacts, today: date) -> Decision:
    """Decide a card entry (see the module docstring for the rules).

    Args:
        facts: what :func:`examine` read of the entry.
        today: the gateway's date, for the expiry rule.

    Returns:
        The decision; ``code`` and ``message`` are set for a decline.
    """

    def make(
        outcome: Outcome,
        *,
        three_ds: ThreeDS | None = None,
        code: str | None = None,
        message: str | None = None,
    ) -> Decision:
        return Decision(
            outcome,
            facts.brand,
            facts.last4,
            facts.exp_month,
            facts.exp_year,
            three_ds,
            code,
            message,
        )

    card = facts.card
    if card is None:
        return make("decline", code=DECLINED_CODE, message="The card was declined.")
    documented = (card.exp_month, card.exp_year)
    if not facts.cvc_matches or not _expiry_ok(documented, facts.exp_month, facts.exp_year, today):
        return make(
            "decline",
            three_ds=card.three_ds,
            code=INPUT_ERROR_CODE,
            message="Input error: check the card's expiry date and security code.",
        )
    if not card.approves:
        return make(
            "decline", three_ds=card.three_ds, code=DECLINED_CODE, message="The card was declined."
        )
    return make("challenge" if card.three_ds == "challenge" else "approve", three_ds=card.three_ds)


def decide(number: str, *, exp_month: int, exp_year: int, cvc: str, today: date) -> Decision:
    """Judge one card entry: :func:`judge` of :func:`examine`.

    Args:
        number: digits only.
        exp_month: 1-12.
        exp_year: four digits.
        cvc: as entered.
        today: the gateway's date, for the expiry rule.

    Returns:
        The decision; ``code`` and ``message`` are set for a decline.
    """
    facts = examine(number, exp_month=exp_month, exp_year=exp_year, cvc=cvc)
    return judge(facts, today)
