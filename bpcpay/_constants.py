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

#: Seconds to get a connection (pool wait included): ``Timeout().connect``. One attempt never
#: lasts longer than connect + read, below a web worker's usual 30 s limit.
DEFAULT_CONNECT_TIMEOUT = 5.0
#: Seconds for the whole answer, from sending the request to its last byte:
#: ``Timeout().read``.
DEFAULT_READ_TIMEOUT = 20.0

#: Retries after the first attempt (GETs, and POSTs that provably never left the machine).
DEFAULT_MAX_RETRIES = 2
#: Seconds before the first retry; each next one waits twice as long (with jitter).
INITIAL_RETRY_DELAY = 0.5
#: The longest backoff between two attempts, in seconds.
MAX_RETRY_DELAY = 8.0
#: The longest ``Retry-After`` bpcpay agrees to wait, in seconds.
MAX_RETRY_AFTER = 20.0

#: Connections kept per client (aiohttp's connector limit).
DEFAULT_POOL_SIZE = 100

#: The largest answer a client reads, decompressed (the ``max_response_bytes`` option).
DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024

#: Webhook bodies larger than this are refused before hashing (``WebhookRouter(max_bytes=)``,
#: ``construct_event(max_bytes=)``): answered 413.
DEFAULT_MAX_WEBHOOK_BYTES = 1024 * 1024

#: The header that carries the API key [doc: api-keys].
API_KEY_HEADER = "X-Api-Key"
#: The header that names the API version, on requests and answers [doc: api-versions].
VERSION_HEADER = "X-Version"
#: The gateway's id of an answer or a delivery, for logs and BPC's support [doc: webhooks].
REQUEST_ID_HEADER = "API-Request-Id"
#: The header of a delivery that holds its HMAC signature [doc: webhooks].
SIGNATURE_HEADER = "X-Signature"
#: How long the gateway asks a client to wait before trying again.
RETRY_AFTER_HEADER = "Retry-After"
#: The request body field that holds the caller's order id, kept on the errors of a call.
REFERENCE_FIELD = "merchantReferenceId"

#: The environment variable a client reads its API key from when ``api_key`` is not given.
ENV_API_KEY = "BPCPAY_API_KEY"
#: The environment variable a client reads its ``base_url`` from when it is not given.
ENV_BASE_URL = "BPCPAY_BASE_URL"
#: The environment variable a client reads its ``api_version`` from when it is not given.
ENV_API_VERSION = "BPCPAY_API_VERSION"

LOGGER_NAME = "bpcpay"
