"""Feeds the container log file that kwok serves for every pod (`kubectl logs`).

kwok parses the file in the CRI log format and filters `sinceSeconds`/`sinceTime` on the
timestamps written in it, so the lines must carry current times: this process backfills
the last minutes at start, then appends a line a second, and trims the file so that kwok
(which re-reads it whole for each request) stays fast.

Run as `python -m tests.testbed.log_writer <file>`; `up` starts it, `down` stops it.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BACKFILL_SECONDS = 900
MAX_BYTES = 2 * 1024 * 1024

# Shaped like a database's log: mostly routine lines, some warnings, an error now and then,
# so that filters have something to find and something to leave out.
MESSAGES = (
    ("stdout", "LOG:  checkpoint starting: time"),
    ("stdout", "LOG:  checkpoint complete: wrote 3 buffers (0.0%)"),
    ("stdout", "LOG:  connection received: host=10.244.1.7 port=51234"),
    ("stdout", "LOG:  connection authorized: user=app database=app"),
    ("stderr", "WARNING:  slow query: duration 1532.112 ms"),
    ("stdout", "LOG:  disconnection: session time: 0:00:01.204"),
    ("stdout", 'LOG:  automatic vacuum of table "app.public.orders"'),
    ("stderr", 'ERROR:  duplicate key value violates unique constraint "orders_pkey"'),
)


def cri_line(moment: datetime, stream: str, text: str) -> str:
    stamp = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
    return f"{stamp} {stream} F {text}\n"


def backfill(path: Path, now: datetime) -> None:
    lines = []
    messages = itertools.cycle(MESSAGES)
    for offset in range(BACKFILL_SECONDS, 0, -1):
        stream, text = next(messages)
        lines.append(cri_line(now - timedelta(seconds=offset), stream, text))
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(lines))
    os.replace(tmp, path)


def trim(path: Path) -> None:
    data = path.read_bytes()
    if len(data) <= MAX_BYTES:
        return
    keep = data[len(data) // 2 :]
    keep = keep[keep.index(b"\n") + 1 :]
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(keep)
    os.replace(tmp, path)


def run(path: Path, interval: float = 1.0) -> None:
    backfill(path, datetime.now(UTC))
    for count, (stream, text) in enumerate(itertools.cycle(MESSAGES)):
        time.sleep(interval)
        with path.open("a") as handle:
            handle.write(cri_line(datetime.now(UTC), stream, text))
        if count % 600 == 599:
            trim(path)


if __name__ == "__main__":
    run(Path(sys.argv[1]))
