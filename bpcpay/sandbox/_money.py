"""Currencies the sandbox accepts and how their amounts are written.

The table holds ISO 4217 alphabetic codes with their minor-unit exponent. A code missing from it
is answered with 400, as a real gateway refuses a currency the merchant is not set up for.
"""

from __future__ import annotations

__all__ = ["CURRENCY_EXPONENTS", "format_amount", "is_known_currency"]

_ZERO_DECIMALS = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE_DECIMALS = "BHD IQD JOD KWD LYD OMR TND"
_TWO_DECIMALS = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN "
    "BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS "
    "GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR "
    "LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD "
    "PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN "
    "SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD YER ZAR ZMW ZWL"
)

#: ISO 4217 code -> number of decimals of its minor unit.
CURRENCY_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(_TWO_DECIMALS.split(), 2),
    **dict.fromkeys(_ZERO_DECIMALS.split(), 0),
    **dict.fromkeys(_THREE_DECIMALS.split(), 3),
}


def is_known_currency(code: str) -> bool:
    """True for an ISO 4217 code in the table (upper case)."""
    return code in CURRENCY_EXPONENTS


def format_amount(amount: int, currency: str) -> str:
    """Minor units as a human amount: ``10000, "EUR"`` -> ``"100.00 EUR"``, ``1000, "JPY"`` ->
    ``"1,000 JPY"``. Integer arithmetic only: no float ever touches money.

    Args:
        amount: in minor units of ``currency``.
        currency: ISO 4217 letters (upper case); two decimals for one the table does not know.

    Returns:
        The amount as the sandbox's payment page shows it.

    Examples:
        ```python
        from bpcpay.sandbox import format_amount

        print(format_amount(10000, "EUR"))  # 100.00 EUR
        print(format_amount(1000, "JPY"))  # 1,000 JPY
        print(format_amount(1500, "KWD"))  # 1.500 KWD
        ```
    """
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 10**exponent)
    text = f"{major:,}" if exponent == 0 else f"{major:,}.{minor:0{exponent}d}"
    return f"{sign}{text} {currency}"
