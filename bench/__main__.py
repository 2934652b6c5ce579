"""``python -m bench``: put the Lambda asset (``functions/``) on the path, then run."""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
for _path in (str(_ROOT / "functions"), str(_ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from bench.run import main  # noqa: E402 - the path above must be set first

if __name__ == "__main__":
    sys.exit(main())
