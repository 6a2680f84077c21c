"""``python -m bench.with_uvloop run ...``: py-scheduler on uvloop, for
:mod:`bench.event_loops` only. py-scheduler runs on asyncio's own loop: uvloop
0.23.0 aborts the process when an HTTPS endpoint resets connections."""

from __future__ import annotations

import asyncio
import sys

import uvloop

from py_scheduler.__main__ import main

if __name__ == "__main__":
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    sys.exit(main())
