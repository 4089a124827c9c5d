"""Fixed values of the SDK: where it talks to, which API version it speaks, default limits.

Imports nothing from bpcpay. Values marked [inferred] are our reading of what BPC has not
published; see ``bpc-api-v2.md`` and docs/inferred.md, "What is inferred".
"""

from __future__ import annotations

#: BPC's public sandbox. Production hosts are per bank / white label [inferred].
DEFAULT_BASE_URL = "https://dev.bpcbt.com/api2"

#: The API version bpcpay is written against; sent as ``X-Version`` on every request. It is the
#: version of BPC's only published request/response pairs (create session, expire session) and
#: of every published request example [doc: redirect-integration, cancel-refund]. 2023-11-15 is
#: the webhook and response-header example; responses and deliveries of any version are read.
DEFAULT_API_VERSION = "2023-10-31"

#: Seconds to get a connection (pool wait included), and for the whole answer: one attempt
#: never lasts longer than connect + read, below a web worker's usual 30 s limit.
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 20.0

#: Retries after the first attempt (GETs, and POSTs that provably never left the machine).
DEFAULT_MAX_RETRIES = 2
#: First backoff, growth cap, and the longest ``Retry-After`` we agree to wait.
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
MAX_RETRY_AFTER = 20.0

#: Connections kept per client (aiohttp's connector limit).
DEFAULT_POOL_SIZE = 100

#: The largest answer a client reads, decompressed (the ``max_response_bytes`` option).
DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024

#: Webhook bodies larger than this are refused before hashing.
DEFAULT_MAX_WEBHOOK_BYTES = 1024 * 1024

API_KEY_HEADER = "X-Api-Key"
VERSION_HEADER = "X-Version"
REQUEST_ID_HEADER = "API-Request-Id"
SIGNATURE_HEADER = "X-Signature"
RETRY_AFTER_HEADER = "Retry-After"
#: The request body field that holds the caller's order id, kept on the errors of a call.
REFERENCE_FIELD = "merchantReferenceId"

ENV_API_KEY = "BPCPAY_API_KEY"
ENV_BASE_URL = "BPCPAY_BASE_URL"
ENV_API_VERSION = "BPCPAY_API_VERSION"

LOGGER_NAME = "bpcpay"
