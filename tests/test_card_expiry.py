"""No test card is shown, or accepted, in a way that expires within two years of the sandbox's
clock: the payment page's table, the README and the docs print an expiry more than two years
ahead, and the sandbox accepts exactly that expiry for every card, on any date. (BPC's table
says 12/26 for three cards, while the sandbox's clock reads December 2026.)"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import pytest

from bpcpay import AsyncBpcPay
from bpcpay.sandbox import ManualClock, SandboxGateway, TestCards
from bpcpay.sandbox._cards import decide, shown_expiry

ROOT = Path(__file__).resolve().parent.parent
TODAY = date.today()
DAYS = [date(2026, 12, 7), date(2028, 1, 1), date(2031, 12, 31), date(2032, 1, 1), date(2040, 6, 1)]
_MMYY = re.compile(r"\b(\d{2})/(\d{2})\b")


def _months_ahead(month: int, year: int, today: date) -> int:
    """Whole months from ``today``'s month to the expiry month (valid through its last day)."""
    return (year - today.year) * 12 + month - today.month


def _accepted(month: int, year: int, today: date) -> bool:
    """Every test card goes through with this expiry (the declining card declines, but not as a
    wrong expiry)."""
    return all(
        decide(card.number, exp_month=month, exp_year=year, cvc="123", today=today).code != "71015"
        for card in TestCards.ALL
    )


@pytest.mark.parametrize("today", DAYS, ids=str)
def test_the_shown_expiry_is_two_years_ahead_and_accepted(today: date) -> None:
    month, year = (int(part) for part in shown_expiry(today).split("/"))
    year += 2000
    assert _months_ahead(month, year, today) > 24
    assert _accepted(month, year, today)
    # ... and it keeps being accepted for those two years, while the clock moves on.
    assert _accepted(month, year, today + timedelta(days=2 * 365))


def test_the_docs_expiry_goes_through_for_every_card_today() -> None:
    # The trap: the card 4111 1111 1111 1111 with the README's 12/34 declined as a wrong expiry
    # while 12/26 had not passed.
    assert _accepted(12, 2034, date(2026, 12, 7))
    assert not _accepted(11, 2026, date(2026, 12, 7))  # an earlier expiry is still wrong
    assert not _accepted(11, 2026, date(2026, 11, 1))


def _printed_expiries() -> list[tuple[str, int, int]]:
    """Every expiry printed next to a test card in the README and the docs: ``MM/YY`` on a line
    that names a test card, and ``exp_year=YYYY``."""
    numbers = {card.number[-4:] for card in TestCards.ALL}
    found = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for line in page.read_text(encoding="utf-8").splitlines():
            if any(f" {last4}" in line for last4 in numbers) or "expiry" in line.lower():
                found += [(page.name, int(m), 2000 + int(y)) for m, y in _MMYY.findall(line)]
            found += [
                (page.name, int(m or 12), int(y))
                for m, y in re.findall(r"exp_month=(\d+), exp_year=(\d{4})", line)
            ]
    return found


def test_no_page_prints_an_expiry_within_two_years() -> None:
    printed = _printed_expiries()
    assert len(printed) >= 3  # the control: the README's 12/34, the docs' table
    for page, month, year in printed:
        assert _months_ahead(month, year, TODAY) > 24, (page, month, year)
        assert _accepted(month, year, TODAY), (page, month, year)


@pytest.mark.asyncio
async def test_the_payment_page_shows_the_shown_expiry() -> None:
    clock = ManualClock(datetime(2026, 12, 7, 12, tzinfo=timezone.utc))
    async with (
        SandboxGateway(clock=clock) as gw,
        AsyncBpcPay(api_key=gw.api_key, base_url=gw.base_url) as client,
    ):
        session = await client.sessions.create(
            amount=100,
            currency="EUR",
            success_url="https://shop.example/ok",
            failure_url="https://shop.example/no",
        )
        assert session.payment_url is not None
        async with aiohttp.ClientSession() as http, http.get(session.payment_url) as page:
            html = await page.text()
        table = html[html.index("Test cards") :]
        assert set(re.findall(r"<td>(\d{2}/\d{2})</td>", table)) == {"12/34"}
        clock.advance(timedelta(days=6 * 365))  # 2032: 12/34 would be two years away
        later = await client.sessions.create(
            amount=100,
            currency="EUR",
            success_url="https://shop.example/ok",
            failure_url="https://shop.example/no",
        )
        assert later.payment_url is not None
        async with aiohttp.ClientSession() as http, http.get(later.payment_url) as page:
            html = await page.text()
        table = html[html.index("Test cards") :]
        assert set(re.findall(r"<td>(\d{2}/\d{2})</td>", table)) == {"12/35"}
