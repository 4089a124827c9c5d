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
    "Decision",
    "TestCard",
    "TestCards",
    "brand_of",
    "decide",
    "expiry_accepted",
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
    if (month, year) == (card.exp_month, card.exp_year):
        return True
    return (year, month) >= (card.exp_year, card.exp_month) and not _passed(month, year, today)


def shown_expiry(today: date) -> str:
    """The expiry shown for every test card on ``today`` (``MM/YY``): ``12/34``, or December
    three years on when that is later; always accepted (see the module docstring)."""
    latest = max(card.exp_year for card in TestCards.ALL)
    return f"12/{max(latest, today.year + 3) % 100:02d}"


def decide(number: str, *, exp_month: int, exp_year: int, cvc: str, today: date) -> Decision:
    """Judge one card entry.

    Args:
        number: digits only.
        exp_month: 1-12.
        exp_year: four digits.
        cvc: as entered.
        today: the gateway's date, for the expiry rule.

    Returns:
        The decision; ``code`` and ``message`` are set for a decline.
    """
    brand, last4 = brand_of(number), number[-4:]

    def make(
        outcome: Outcome,
        *,
        three_ds: ThreeDS | None = None,
        code: str | None = None,
        message: str | None = None,
    ) -> Decision:
        return Decision(outcome, brand, last4, exp_month, exp_year, three_ds, code, message)

    card = _BY_NUMBER.get(number)
    if card is None:
        return make("decline", code=DECLINED_CODE, message="The card was declined.")
    if cvc != card.cvc or not expiry_accepted(card, exp_month, exp_year, today):
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
