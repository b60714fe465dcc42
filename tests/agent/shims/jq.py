"""Stand-in for jq where it is not installed: runs only the two programs agent/start.sh uses.

The image installs the real jq; this lets the start.sh tests run on a bare machine. An
unknown program fails loudly, so a change of filter in start.sh cannot pass unnoticed.
"""

from __future__ import annotations

import base64
import json
import sys

TASK_ARN_FILTER = ".TaskARN // empty"
CAPABILITIES_FILTER = (
    'if type != "object" then error("not a JSON object") else to_entries[] | '
    'if (.value | type) != "string" then error("capability \\(.key | @json) has a non-string '
    'value") elif ((.key + .value) | explode | any(. < 32)) then error("capability \\(.key | '
    '@json) contains a control character") else "\\(.key | @base64):\\(.value | @base64)" end end'
)


class JqError(Exception):
    """What jq reports as ``jq: error (at <stdin>:N): MESSAGE`` with exit status 5."""


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def task_arn(data: object) -> list[str]:
    value = data.get("TaskARN") if isinstance(data, dict) else None
    if value is None or value is False:
        return []
    if not isinstance(value, str):
        return [json.dumps(value)]
    return [value]


def capabilities(data: object) -> list[str]:
    if not isinstance(data, dict):
        raise JqError("not a JSON object")
    lines = []
    for key, value in data.items():
        name = json.dumps(key, ensure_ascii=False)
        if not isinstance(value, str):
            raise JqError(f"capability {name} has a non-string value")
        if any(ord(char) < 32 for char in key + value):
            raise JqError(f"capability {name} contains a control character")
        lines.append(f"{_b64(key)}:{_b64(value)}")
    return lines


PROGRAMS = {TASK_ARN_FILTER: task_arn, CAPABILITIES_FILTER: capabilities}


def main(argv: list[str]) -> int:
    args = [arg for arg in argv if arg != "-r"]
    if len(args) != 1 or args[0] not in PROGRAMS:
        print(f"jq shim: unsupported arguments {argv!r}", file=sys.stderr)
        return 3
    try:
        data = json.loads(sys.stdin.read())
    except ValueError as error:
        print(f"parse error: {error}", file=sys.stderr)
        return 4
    try:
        lines = PROGRAMS[args[0]](data)
    except JqError as error:
        print(f"jq: error (at <stdin>:0): {error}", file=sys.stderr)
        return 5
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
