"""Sanitizer reports of proxies run from an ASan or TSan build (scripts/test --asan / --tsan).

scripts/test sets ASAN_OPTIONS / TSAN_OPTIONS with log_path=$SLOTPROXY_SANITIZER_DIR/<asan|tsan>,
so every report lands in a file `<asan|tsan>.<pid>` there (kept after the run). conftest.py fails
the test during which a new report file appears (a proxy stopped at a test's teardown writes its
LeakSanitizer report then, which still counts for that test), and the session when the shared
proxy leaves one at exit. Without log_path a report goes to the proxy's stderr, i.e. its log:
`in_log` finds it there.
"""

from __future__ import annotations

import os
from pathlib import Path

MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
           "ERROR: ThreadSanitizer", "runtime error: ")


def active() -> str | None:
    """"address" or "thread" when the proxy under test is a sanitizer build (scripts/test sets
    SLOTPROXY_SANITIZER): its memory figures then measure the sanitizer (ASan keeps freed memory
    in quarantine), so RSS bounds are not checked."""
    return os.environ.get("SLOTPROXY_SANITIZER") or None


def report_dir() -> Path | None:
    given = os.environ.get("SLOTPROXY_SANITIZER_DIR")
    return Path(given) if given else None


def report_files() -> set[Path]:
    """Every report file written so far."""
    d = report_dir()
    if d is None or not d.is_dir():
        return set()
    return {p for p in d.iterdir() if p.is_file() and p.stat().st_size > 0}


def describe(files: set[Path] | list[Path], lines: int = 60) -> str:
    out = []
    for path in sorted(files):
        text = path.read_text(errors="replace").splitlines()
        out.append(f"--- {path} ({len(text)} lines) ---\n" + "\n".join(text[:lines]))
    return "\n".join(out)


def in_log(log_path: Path, lines: int = 60) -> str | None:
    """The first sanitizer report in a proxy's log (its stderr), or None."""
    try:
        text = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for i, line in enumerate(text):
        if any(m in line for m in MARKERS):
            return f"--- {log_path} line {i + 1} ---\n" + "\n".join(text[i:i + lines])
    return None
