"""The stub job's search for the PAT: everywhere a pipeline step could look.

Every ``/proc/*/environ``, ``/proc/*/cmdline`` and regular file behind ``/proc/*/fd/*``
it may read, and every readable file under the directories in ``STUB_SCAN_ROOTS`` (the
agent's home, HOME, the temporary directory, the hand-over volume). The PAT comes
reversed in ``STUB_SCAN_NEEDLE_REVERSED`` so this process's own environment does not
hold it. Prints JSON: what was checked and where the PAT was found.
"""

import base64
import json
import os
import stat
import sys

LIMIT = 4 * 1024 * 1024


def needles():
    token = os.environ["STUB_SCAN_NEEDLE_REVERSED"][::-1].encode()
    return [
        token,
        base64.b64encode(b":" + token),  # an Authorization: Basic header
        base64.b64encode(token),
    ]


def read(path):
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        return os.read(fd, LIMIT)
    except OSError:
        return None
    finally:
        os.close(fd)


def main():
    wanted = needles()
    found, checked = [], {"environ": 0, "cmdline": 0, "fd": 0, "file": 0}

    def check(kind, path, data):
        if data is None:
            return
        checked[kind] += 1
        if any(needle in data for needle in wanted):
            found.append(f"{kind}:{path}")

    for pid in (entry for entry in os.listdir("/proc") if entry.isdigit()):
        for kind in ("environ", "cmdline"):
            check(kind, f"/proc/{pid}/{kind}", read(f"/proc/{pid}/{kind}"))
        try:
            descriptors = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for descriptor in descriptors:
            path = f"/proc/{pid}/fd/{descriptor}"
            try:
                if not stat.S_ISREG(os.stat(path).st_mode):
                    continue
            except OSError:
                continue
            check(
                "fd", f"{path} -> {os.readlink(path) if os.path.islink(path) else '?'}", read(path)
            )
    for root in filter(None, os.environ.get("STUB_SCAN_ROOTS", "").split(":")):
        for directory, _dirs, files in os.walk(root):
            for name in files:
                path = os.path.join(directory, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                check("file", path, read(path))
    json.dump({"checked": checked, "found": found}, sys.stdout)


main()
