"""What a queue's capabilities may be, now that they become the agent's environment.

The agent reports every environment variable as a capability, so the agent image puts a
queue's capabilities into the environment of ``config.sh`` and ``run.sh``. People who
write queue items are not trusted with the PAT: a name the shell, the dynamic loader, a
runtime or the image gives meaning to (``BASH_FUNC_x%%``, ``LD_PRELOAD``, ``BASH_ENV``,
``HTTPS_PROXY``...) would run their code next to the PAT or send its traffic elsewhere.
So names follow a strict pattern and a deny-list; ``agent/start.sh`` applies the same
two rules again (a test keeps both copies equal). Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

# Letters, digits, '.', '_' and '-', starting with a letter: java.version, maven-3, docker.
NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,127}")
# Compared case-insensitively: a prefix ends with '_', a name is whole.
DENIED_PREFIXES: tuple[str, ...] = (
    "AGENT_",  # the agent's own settings and variables
    "AWS_",  # credential endpoints and SDK settings of the container
    "AZP_",  # the agent image's settings
    "BASH_",  # BASH_ENV, BASH_FUNC_*: code bash runs
    "DOTNET_",  # .NET host settings (startup hooks) of the agent itself
    "COMPLUS_",
    "CORECLR_",  # profilers loaded into the agent
    "ECS_",  # task metadata endpoints
    "GIT_",  # git's ssh command, config and proxies
    "LC_",  # locale: message catalogues the shell loads
    "LD_",  # the dynamic loader: LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT
    "NODE_",  # NODE_OPTIONS: --require of any file
    "SSL_",  # SSL_CERT_FILE: trust another certificate authority
    "SYSTEM_",  # pipeline variables the agent sets for jobs
    "BUILD_",
    "TF_BUILD",
    "VSO_",  # VSO_AGENT_IGNORE and the agent's switches
    "VSTS_",  # VSTS_AGENT_INPUT_*: config.sh arguments
)
DENIED_NAMES: frozenset[str] = frozenset(
    {
        "ALL_PROXY",
        "BASHOPTS",
        "CDPATH",
        "CURL_CA_BUNDLE",
        "CURL_HOME",
        "ENV",
        "GLOBIGNORE",
        "HOME",
        "HOSTNAME",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "IFS",
        "JAVA_TOOL_OPTIONS",
        "LANG",
        "LANGUAGE",
        "LOGNAME",
        "MAIL",
        "NO_PROXY",
        "OLDPWD",
        "PATH",
        "PERL5LIB",
        "PERL5OPT",
        "POSIXLY_CORRECT",
        "PROMPT_COMMAND",
        "PS1",
        "PS2",
        "PS4",
        "PWD",
        "PYTHONHOME",
        "PYTHONPATH",
        "PYTHONSTARTUP",
        "REQUESTS_CA_BUNDLE",
        "RUBYOPT",
        "SHELL",
        "SHELLOPTS",
        "SHLVL",
        "TERM",
        "TMPDIR",
        "TZ",
        "USER",
        "_JAVA_OPTIONS",
    }
)
MAX_VALUE_LENGTH = 1023  # the agent ignores environment values of 1024 characters or more
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
# RunTask refuses overrides over 8 KiB; the rest of the override (pool, URL, agent name,
# the init container's organisation) is kept within the reserve.
OVERRIDE_LIMIT = 8192
OVERRIDE_RESERVE = 1536


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a capability, or None."""
    if not NAME_PATTERN.fullmatch(name):
        return (
            f"must be 1-128 letters, digits, '.', '_' or '-', starting with a letter (got {name!r})"
        )
    upper = name.upper()
    if upper in DENIED_NAMES or upper.startswith(DENIED_PREFIXES):
        return f"{name!r} is reserved: the shell, the loader or the agent gives it meaning"
    return None


def value_problem(value: str) -> str | None:
    """Why ``value`` cannot be a capability's value, or None."""
    if CONTROL_CHARACTERS.search(value):
        return "must not contain control characters"
    if len(value) > MAX_VALUE_LENGTH:
        return f"longer than {MAX_VALUE_LENGTH} characters (the agent ignores it)"
    return None


def encoded(capabilities: Mapping[str, str]) -> str:
    """``AZP_CAPABILITIES`` as the launch step sends it."""
    return json.dumps(dict(capabilities), sort_keys=True, separators=(",", ":"))


def override_size(capabilities: Mapping[str, str]) -> int:
    """Characters ``AZP_CAPABILITIES`` takes in the RunTask overrides (JSON inside JSON)."""
    return len(json.dumps(encoded(capabilities)))


def size_problem(capabilities: Mapping[str, str]) -> str | None:
    budget = OVERRIDE_LIMIT - OVERRIDE_RESERVE
    size = override_size(capabilities)
    if size > budget:
        return (
            f"take {size} characters in the task's overrides, more than {budget}"
            f" (ECS refuses overrides over {OVERRIDE_LIMIT})"
        )
    return None
