"""The fork server's last preload: importing this warms the extraction stack once
(``reading.warm_up``), so that every worker forked from the server starts warm instead of each
paying the first page's imports and compilations (40 to 50 ms) after its fork.

Never raises: the fork server dies of an exception in a preload that is not an ``ImportError``,
and every worker start would then fail. A worker whose server did not warm up warms itself.
"""

from __future__ import annotations

import contextlib

from service.pipeline.extract import reading

with contextlib.suppress(Exception):
    reading.warm_up()
