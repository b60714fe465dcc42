"""The organisations a stack may serve: where a PAT may be sent, and which PAT.

The platform team lists them in the stack config (the stack's own organisation and PAT
first); a queue item only names one of them, by URL or short name. Nothing else decides
where a PAT goes, so a queue item can never send it to a host of its choosing. Pure: no
I/O; the stack config, the Lambda environment and the launch step share these rules.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

# Azure DevOps organisation names: letters, digits and '-', up to 50 characters.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,49}")
LOOPBACK_HOSTS = frozenset({"localhost"})
# The init container finds an organisation's PAT in this variable (its ECS secret).
PAT_VARIABLE_PREFIX = "AZP_PAT_"
# The launch step names the organisation for the init container in this variable.
ORGANIZATION_VARIABLE = "AZP_ORGANIZATION"
# The agent task's init container: the only container that receives the PATs (ECS secrets);
# it writes the named organisation's PAT to a task-scoped volume for the agent and exits.
INIT_CONTAINER_NAME = "pat-handover"
# Where the init container leaves the PAT for the agent's user (the image's uid 10001).
HANDOVER_DIRECTORY = "/run/adoscale"
TOKEN_FILE = f"{HANDOVER_DIRECTORY}/pat"
AGENT_UID = 10001


class OrganizationError(ValueError):
    """An organisation URL, name or list that is not acceptable; the text says why."""


@dataclass(frozen=True)
class Organization:
    """One organisation adoscale may serve, and the Secrets Manager secret of its PAT."""

    name: str
    url: str
    pat_secret_arn: str

    @property
    def pat_variable(self) -> str:
        return pat_variable(self.name)


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_url(url: str, *, allow_loopback_http: bool = False) -> str:
    """``https://host[:port]/path`` without a trailing slash, host lower-cased.

    HTTPS only: a PAT sent over plain HTTP is readable on the way. Plain HTTP is accepted
    only for a loopback host when ``allow_loopback_http`` (the local mode's fake service).
    No user info, query or fragment: the URL is a base the client appends paths to.
    """
    text = url.strip()
    if any(ord(character) < 33 or ord(character) == 127 for character in text):
        raise OrganizationError("must not contain blanks or control characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise OrganizationError(f"not a URL: {error}") from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if not host:
        raise OrganizationError("must be an https:// URL with a host")
    if scheme != "https" and not (scheme == "http" and allow_loopback_http and _is_loopback(host)):
        raise OrganizationError("must be an https:// URL (a PAT never travels over plain HTTP)")
    if parts.username is not None or parts.password is not None:
        raise OrganizationError("must not carry user information")
    if parts.query or parts.fragment:
        raise OrganizationError("must not carry a query or fragment")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def name_from_url(url: str) -> str:
    """The short name of an organisation URL: ``https://dev.azure.com/contoso`` and
    ``https://contoso.visualstudio.com`` are both ``contoso``."""
    parts = urlsplit(url)
    segments = [segment for segment in parts.path.split("/") if segment]
    host = (parts.hostname or "").lower()
    if host.endswith(".visualstudio.com") and not segments:
        candidate = host.split(".", 1)[0]
    elif segments:
        candidate = segments[-1]
    else:
        candidate = host.split(".", 1)[0]
    if not NAME_PATTERN.fullmatch(candidate):
        raise OrganizationError(f"cannot derive an organisation name from {url!r}: name it")
    return candidate.lower()


def pat_variable(name: str) -> str:
    """``AZP_PAT_<NAME>``: where the init container finds this organisation's PAT."""
    return PAT_VARIABLE_PREFIX + re.sub(r"[^A-Z0-9]", "_", name.upper())


class Organizations:
    """The allow-list: the stack's own organisation first, then the others configured."""

    def __init__(self, organizations: Sequence[Organization]) -> None:
        if not organizations:
            raise OrganizationError("at least one organisation is needed")
        seen_names: set[str] = set()
        seen_urls: set[str] = set()
        seen_variables: set[str] = set()
        for organization in organizations:
            name, url = organization.name.lower(), organization.url.lower()
            if (
                name in seen_names
                or url in seen_urls
                or organization.pat_variable in seen_variables
            ):
                raise OrganizationError(
                    f"organisation {organization.name!r} ({organization.url}) is listed twice"
                )
            seen_names.add(name)
            seen_urls.add(url)
            seen_variables.add(organization.pat_variable)
        self._all = tuple(organizations)

    @property
    def default(self) -> Organization:
        return self._all[0]

    def __iter__(self) -> Any:
        return iter(self._all)

    def __len__(self) -> int:
        return len(self._all)

    def names(self) -> list[str]:
        return [organization.name for organization in self._all]

    def secret_arns(self) -> list[str]:
        return sorted({organization.pat_secret_arn for organization in self._all})

    def resolve(self, reference: str | None) -> Organization:
        """The organisation a queue item names (URL or short name; none: the default)."""
        if reference is None:
            return self.default
        wanted = reference.strip()
        for organization in self._all:
            if wanted.lower() == organization.name.lower():
                return organization
        if "://" in wanted:
            try:
                url = normalize_url(wanted, allow_loopback_http=True)
            except OrganizationError:
                url = None
            for organization in self._all:
                if url is not None and url.lower() == organization.url.lower():
                    return organization
        raise OrganizationError(
            "not one of the organisations this stack serves "
            f"({', '.join(self.names())}): the stack config lists them"
        )


def parse_organizations(text: str, *, allow_loopback_http: bool = False) -> list[Organization]:
    """The Lambda environment's list: a JSON list of ``{"name", "url", "pat_secret_arn"}``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise OrganizationError(f"not JSON: {error.msg}") from None
    if not isinstance(data, list):
        raise OrganizationError('must be a JSON list of {"name", "url", "pat_secret_arn"}')
    return [_organization(entry, index, allow_loopback_http) for index, entry in enumerate(data)]


def _organization(entry: Any, index: int, allow_loopback_http: bool) -> Organization:
    if not isinstance(entry, Mapping) or set(entry) != {"name", "url", "pat_secret_arn"}:
        raise OrganizationError(
            f'entry {index}: must be an object with exactly "name", "url" and "pat_secret_arn"'
        )
    name, url, arn = entry["name"], entry["url"], entry["pat_secret_arn"]
    if not all(isinstance(value, str) for value in (name, url, arn)):
        raise OrganizationError(f"entry {index}: name, url and pat_secret_arn must be strings")
    if not NAME_PATTERN.fullmatch(name):
        raise OrganizationError(f"entry {index}: name {name!r} is not an organisation name")
    try:
        url = normalize_url(url, allow_loopback_http=allow_loopback_http)
    except OrganizationError as error:
        raise OrganizationError(f"entry {index}: url {error}") from None
    if not re.fullmatch(r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:\S+", arn):
        raise OrganizationError(f"entry {index}: pat_secret_arn is not a Secrets Manager ARN")
    return Organization(name=name, url=url, pat_secret_arn=arn)


def dump_organizations(organizations: Iterable[Organization]) -> str:
    """The JSON ``parse_organizations`` reads."""
    return json.dumps(
        [{"name": o.name, "url": o.url, "pat_secret_arn": o.pat_secret_arn} for o in organizations],
        separators=(",", ":"),
    )
