"""Old name of :mod:`services.legal.cli`, kept so ``python -m services.legal.client`` still works.

Delete once the docs, scripts and integrators' runbooks say ``python -m services.legal.cli``.
"""

from __future__ import annotations

import sys

from services.legal.cli import ClientError, Item, Summary, main, post_batch, read_items, replay

__all__ = ["ClientError", "Item", "Summary", "main", "post_batch", "read_items", "replay"]

if __name__ == "__main__":
    sys.exit(main())
