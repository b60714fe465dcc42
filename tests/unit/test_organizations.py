"""The organisations a stack serves: the only places a PAT may go."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adoscale.core.exceptions import ConfigError, QueueConfigError
from adoscale.core.organizations import (
    Organization,
    OrganizationError,
    Organizations,
    name_from_url,
    normalize_url,
    pat_variable,
)
from adoscale.core.schema import parse_queue
from adoscale.core.settings import load_settings

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:{}-AbCdEf"
CONTOSO = Organization("contoso", "https://dev.azure.com/contoso", ARN.format("contoso"))
FABRIKAM = Organization("fabrikam", "https://fabrikam.visualstudio.com", ARN.format("fabrikam"))
ORGS = Organizations([CONTOSO, FABRIKAM])


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        (None, CONTOSO),
        ("contoso", CONTOSO),
        ("Fabrikam", FABRIKAM),
        ("https://dev.azure.com/contoso/", CONTOSO),
        ("https://DEV.azure.com/contoso", CONTOSO),
        ("https://fabrikam.visualstudio.com", FABRIKAM),
    ],
    ids=str,
)
def test_a_queue_names_a_listed_organisation_by_name_or_url(reference, expected) -> None:
    assert ORGS.resolve(reference) == expected


@pytest.mark.parametrize(
    "reference",
    [
        "evil",
        "https://evil.example/contoso",
        "https://dev.azure.com/contoso.evil.example",
        "http://dev.azure.com/contoso",
        "https://dev.azure.com/contoso@evil.example",
        "https://127.0.0.1:9/contoso",
    ],
)
def test_anything_else_is_refused_with_the_list(reference: str) -> None:
    with pytest.raises(OrganizationError, match="contoso, fabrikam"):
        ORGS.resolve(reference)


@pytest.mark.parametrize(
    "url",
    [
        "http://dev.azure.com/x",
        "ftp://dev.azure.com/x",
        "https://user:pw@dev.azure.com/x",
        "https://dev.azure.com/x?y=1",
        "https://dev.azure.com/x#f",
        "https:///x",
        "https://dev.azure.com/a b",
    ],
)
def test_only_plain_https_urls_are_organisation_urls(url: str) -> None:
    with pytest.raises(OrganizationError):
        normalize_url(url)


def test_plain_http_is_allowed_only_to_loopback_when_asked() -> None:
    assert normalize_url("http://127.0.0.1:8080/org/", allow_loopback_http=True) == (
        "http://127.0.0.1:8080/org"
    )
    with pytest.raises(OrganizationError):
        normalize_url("http://10.0.0.1:8080/org", allow_loopback_http=True)
    with pytest.raises(OrganizationError):
        normalize_url("http://127.0.0.1:8080/org")


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://dev.azure.com/contoso", "contoso"),
        ("https://contoso.visualstudio.com", "contoso"),
        ("http://127.0.0.1:5000/fakeorg", "fakeorg"),
    ],
)
def test_short_names_come_from_the_url(url: str, name: str) -> None:
    assert name_from_url(url) == name


def test_duplicates_are_refused() -> None:
    with pytest.raises(OrganizationError, match="twice"):
        Organizations([CONTOSO, Organization("other", CONTOSO.url, ARN.format("x"))])
    with pytest.raises(OrganizationError, match="twice"):
        Organizations([CONTOSO, Organization("CONTOSO", "https://x.example/c", ARN.format("x"))])


def test_the_lambda_environment_lists_the_other_organisations() -> None:
    environ = {
        "ADOSCALE_ORG_URL": CONTOSO.url,
        "ADOSCALE_PAT_SECRET_ARN": CONTOSO.pat_secret_arn,
        "ADOSCALE_ORGANIZATIONS": json.dumps(
            [{"name": "fabrikam", "url": FABRIKAM.url, "pat_secret_arn": FABRIKAM.pat_secret_arn}]
        ),
    }

    organizations = load_settings(environ).organizations()

    assert list(organizations) == [CONTOSO, FABRIKAM]
    assert organizations.secret_arns() == sorted([CONTOSO.pat_secret_arn, FABRIKAM.pat_secret_arn])


@pytest.mark.parametrize(
    "value",
    [
        "{}",
        "not json",
        '[{{"name": "x", "url": "http://evil.example/x", "pat_secret_arn": "{}"}}]'.format(
            ARN.format("x")
        ),
        '[{"name": "x", "url": "https://ok.example/x", "pat_secret_arn": "nope"}]',
        '[{{"name": "-x", "url": "https://ok.example/x", "pat_secret_arn": "{}"}}]'.format(
            ARN.format("x")
        ),
        '[{"name": "x", "url": "https://ok.example/x"}]',
    ],
)
def test_a_bad_organisation_list_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigError, match="ADOSCALE_ORGANIZATIONS"):
        load_settings({"ADOSCALE_ORGANIZATIONS": value})


def test_an_existing_item_with_pat_secret_arn_gets_a_migration_message() -> None:
    item = {"queue": "q", "pool": "p", "max_agents": 1, "pat_secret_arn": ARN.format("old")}

    with pytest.raises(QueueConfigError) as caught:
        parse_queue(item)

    (message,) = caught.value.errors["pat_secret_arn"]
    assert "no longer accepted" in message
    assert "organization_url" in message


def test_pat_variables_are_environment_names() -> None:
    assert pat_variable("my-org") == "AZP_PAT_MY_ORG"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_property_resolve_returns_a_listed_organisation_or_refuses(reference: str) -> None:
    try:
        found = ORGS.resolve(reference)
    except OrganizationError as error:
        assert "contoso, fabrikam" in str(error)
    else:
        assert found in (CONTOSO, FABRIKAM)
