"""bpcpay._secret.Secret: a value that cannot print itself, and where the clients keep theirs."""

from __future__ import annotations

import copy
import pickle

import pytest

from bpcpay import AsyncBpcPay, webhooks
from bpcpay._secret import Secret
from bpcpay.webhooks import WebhookRouter
from bpcpay.webhooks._signature import secret_keys

KEY = "sk_test_secret_type_Zq81xP"


@pytest.mark.parametrize("value", [KEY, KEY.encode()])
def test_a_secret_shows_only_its_redacted_form(value: str | bytes) -> None:
    secret = Secret(value)
    shown = [
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r}",
        f"{secret:>40}",
        "%s %r" % (secret, secret),  # noqa: UP031 - the old formatting, as log lines use it
        repr([secret, {"key": secret}]),
        pickle.dumps(secret, protocol=0).decode("latin-1"),
        pickle.dumps(secret).decode("latin-1"),
    ]
    for text in shown:
        assert "secret_type" not in text, text
    assert repr(secret) == "Secret('[redacted]')"
    assert str(secret) == "[redacted]"
    assert secret.reveal() == value  # the one way to the value
    assert bool(secret) and not Secret("")


def test_a_pickled_or_copied_secret_never_carries_the_value() -> None:
    secret = Secret(KEY)
    back = pickle.loads(pickle.dumps(secret))
    assert back.reveal() == "[redacted]"
    assert pickle.loads(pickle.dumps(Secret(KEY.encode()))).reveal() == b"[redacted]"
    # A copy is the same secret (immutable), not a redacted one: a holder copied stays usable.
    assert copy.copy(secret) is secret and copy.deepcopy(secret) is secret
    assert copy.deepcopy({"k": secret})["k"].reveal() == KEY
    with pytest.raises((AttributeError, TypeError)):
        vars(secret)


def test_the_clients_and_the_router_hold_their_secrets_as_secrets() -> None:
    client = AsyncBpcPay(api_key=KEY)
    held = [value for value in vars(client).values() if isinstance(value, Secret)]
    assert [s.reveal() for s in held] == [KEY]
    # The plain key is in the request headers alone: the one place it goes on the wire (handed
    # to aiohttp with each request, never a local of bpcpay's frames).
    plain = {name for name, value in vars(client).items() if KEY in repr(value)}
    assert plain == {"_get_headers", "_post_headers"}
    router = WebhookRouter(secret=[KEY, "whsec_second_one_x"])
    held_lists = [v for v in vars(router).values() if isinstance(v, list) and v]
    assert any(all(isinstance(key, Secret) for key in v) for v in held_lists)
    assert KEY not in repr(vars(router))
    keys = secret_keys(["whsec_a_secret_value", b"whsec_b"])
    assert [k.reveal() for k in keys] == [b"whsec_a_secret_value", b"whsec_b"]
    assert secret_keys(keys) == keys  # made keys are taken as they are
    body = b'{"a": 1}'
    assert webhooks.sign(body, keys[0]) == webhooks.sign(body, "whsec_a_secret_value")
