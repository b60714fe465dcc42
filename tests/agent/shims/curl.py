"""Stand-in for curl where it is not installed: the options agent/start.sh passes, no more.

Supports ``-f -s -S`` (also combined), ``--retry N``, ``--retry-delay S``,
``--retry-connrefused``, ``--max-time S`` and one URL; exit codes follow curl (7: could not
connect, 22: HTTP error with -f, 28: timeout).
"""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request

FLAGS = {"-f", "-s", "-S", "-fsS", "-sS", "-fs", "--retry-connrefused"}
VALUED = {"--retry", "--retry-delay", "--max-time"}


def parse(argv: list[str]) -> tuple[dict[str, str], set[str], str]:
    options: dict[str, str] = {}
    flags: set[str] = set()
    urls: list[str] = []
    items = iter(argv)
    for arg in items:
        if arg in VALUED:
            options[arg] = next(items)
        elif arg in FLAGS:
            flags.update({arg} if arg.startswith("--") else {f"-{c}" for c in arg[1:]})
        elif arg.startswith("-"):
            raise SystemExit(f"curl shim: unsupported option {arg}")
        else:
            urls.append(arg)
    if len(urls) != 1:
        raise SystemExit("curl shim: exactly one URL expected")
    return options, flags, urls[0]


def fetch(url: str, timeout: float) -> tuple[int, bytes | None, str]:
    """(curl exit code, body, error message)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 0, response.read(), ""
    except urllib.error.HTTPError as error:
        return 22, error.read(), f"The requested URL returned error: {error.code}"
    except TimeoutError:
        return 28, None, "Operation timed out"
    except (urllib.error.URLError, OSError) as error:
        return 7, None, f"Failed to connect: {error}"


def main(argv: list[str]) -> int:
    options, flags, url = parse(argv)
    retries = int(options.get("--retry", "0"))
    delay = float(options.get("--retry-delay", "1"))
    timeout = float(options.get("--max-time", "30"))
    for attempt in range(retries + 1):
        code, body, message = fetch(url, timeout)
        transient = code == 28 or (code == 7 and "--retry-connrefused" in flags)
        if code == 22 and body is not None:
            transient = message.endswith(("500", "502", "503", "504"))
        if code == 0 or not transient or attempt == retries:
            break
        time.sleep(delay)
    if code == 22 and "-f" not in flags and body is not None:
        code = 0
    if code == 0:
        sys.stdout.buffer.write(body or b"")
        return 0
    if "-s" not in flags or "-S" in flags:
        print(f"curl: ({code}) {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
