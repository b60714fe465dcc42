"""Text that is safe to print: whoever writes a queue item or a file must not be able to
drive the operator's terminal (OSC/CSI escapes can retitle windows, hide lines, forge
output or, in some terminals, write files) through an error message or a table cell."""

from __future__ import annotations

import re

from rich.text import Text

# control characters U+0000-001F and U+007F-009F (ESC, BEL, CSI...), DEL, line and
# paragraph separators, bidirectional overrides and isolates (they reorder what is
# shown), and lone surrogates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(text: object) -> str:
    """``text`` with every unsafe character shown as an escape (``\\x1b``, ``\\u202e``)."""
    return _UNSAFE.sub(_escape, str(text))


def literal(text: object) -> Text:
    """A rich cell shown exactly as written: no markup (``[red]``), nothing unsafe."""
    return Text(printable(text))


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
