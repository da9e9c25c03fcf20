"""Review of this stop's bounce wording (``leadpool.events.bounces``): a regular expression that
backtracks quadratically on DSN text a third party writes.

No timing assertion: the check runs in a child process and only guards against a hang (the bound
is a thousand times what a linear scan of the text needs).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")

_PROBE = """
from leadpool.events.bounces import classify_dsn, reads_as_auto_reply
text = "Delivery to this address failed" + "\\n" * 100_000
print(classify_dsn(text), reads_as_auto_reply(text))
"""


def test_a_dsn_with_a_long_run_of_blank_lines_is_classified_without_hanging() -> None:
    """``_LEADING_CODE = re.compile(r"^\\s*(?:smtp;\\s*)?[245]\\d\\d\\b", re.MULTILINE)`` is tried at
    every line start, and ``\\s*`` there runs over every following newline before failing and
    backing off one character at a time: O(n^2) in a run of blank (or whitespace-only) lines.
    ``reads_as_auto_reply`` (called first for every Smartlead bounce, and by ``classify_dsn``
    for every Smartlead / Instantly bounce text) searches it on the whole ``bounce_message``.
    Measured: 10,000 newlines 1.5 s, 20,000 6.3 s, 100,000 354 s (every other new pattern
    takes under 0.1 s on 100,000 characters). The DSN text is written by whichever mail server
    refused the message, i.e. by anyone who owns a recipient domain, and the webhook body may be
    16 MB: one such bounce holds a request (and its transaction, with the leads it locked) for
    hours, and the provider's retries pile up. ``[ \\t]*`` instead of ``\\s*`` (a line's own
    leading blanks) makes it linear.
    """
    env = dict(os.environ, PYTHONPATH=SRC)
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE], check=False, env=env, capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        pytest.fail("classifying a 100,000-character DSN text did not finish in 60 s (linear: ~0.1 s)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["hard_bounce", "False"]
