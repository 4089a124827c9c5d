"""``python -m bpcpay.cli``."""

import sys

from . import main

sys.exit(main())
