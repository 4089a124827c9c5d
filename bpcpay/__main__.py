"""``python -m bpcpay``: the ``bpcpay`` command, for when the console script is not on PATH.

Imports only :mod:`bpcpay.cli`, which registers its subcommands without importing aiohttp.
"""

import sys

from .cli import main

sys.exit(main())
