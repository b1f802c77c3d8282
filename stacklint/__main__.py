from __future__ import annotations

import sys

from stacklint.cli import main

sys.exit(main())
