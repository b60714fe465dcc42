"""The per-profile launch table the stack hands the Lambdas (ADOSCALE_PROFILE_LAUNCH)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adoscale.core import capacity
from adoscale.core.capacity import ProfileLaunch
from adoscale.core.exceptions import ConfigError
from adoscale.core.settings import load_settings

_NAMES = st.from_regex(r"^[a-z][a-z0-9-]{0,15}$", fullmatch=True)
_ENTRIES = st.builds(
    lambda provider, timeout, one: ProfileLaunch(provider, timeout, one and provider is not None),
    st.one_of(st.none(), st.from_regex(r"^[A-Za-z][A-Za-z0-9_-]{0,30}$", fullmatch=True)),
    st.one_of(st.none(), st.integers(min_value=1, max_value=7200)),
    st.booleans(),
)


@given(st.dictionaries(_NAMES, _ENTRIES, max_size=6))
def test_what_the_stack_writes_the_lambdas_read_back(table: dict[str, ProfileLaunch]) -> None:
    read = capacity.loads(capacity.dumps(table))
    for name, entry in table.items():
        assert read.get(name, ProfileLaunch()) == entry


@given(
    _NAMES,
    st.one_of(st.none(), st.integers(min_value=1, max_value=7200)),
    st.integers(min_value=1, max_value=7200),
)
def test_a_profile_boot_timeout_wins_over_the_stack_default(
    profile: str, own: int | None, default: int
) -> None:
    settings = load_settings(
        {
            "ADOSCALE_BOOT_TIMEOUT_SECONDS": str(default),
            "ADOSCALE_PROFILE_LAUNCH": capacity.dumps({profile: ProfileLaunch("cp", own)}),
        }
    )
    assert settings.boot_timeout_for(profile) == (own or default)
    assert settings.boot_timeout_for(profile + "-other") == default
    assert settings.launch_of(profile + "-other") == ProfileLaunch()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[]", "must be a JSON object keyed by agent profile"),
        ("{", "not JSON"),
        ('{"d": 1}', "d: must be an object"),
        ('{"d": {"capacity": "x"}}', "d: unknown keys capacity"),
        ('{"d": {"capacityProvider": ""}}', "d.capacityProvider: must be a non-empty string"),
        ('{"d": {"bootTimeoutSeconds": 0}}', "d.bootTimeoutSeconds: must be a positive"),
        ('{"d": {"bootTimeoutSeconds": true}}', "d.bootTimeoutSeconds: must be a positive"),
        ('{"d": {"bootTimeoutSeconds": "60"}}', "d.bootTimeoutSeconds: must be a positive"),
        ('{"d": {"onePerInstance": "yes"}}', "d.onePerInstance: must be true or false"),
        ('{"d": {"onePerInstance": true}}', "d.onePerInstance: needs a capacityProvider"),
    ],
    ids=[
        "list",
        "broken",
        "entry-not-object",
        "unknown-key",
        "empty-provider",
        "zero-timeout",
        "bool-timeout",
        "text-timeout",
        "text-flag",
        "fargate-one-per-instance",
    ],
)
def test_a_bad_table_names_the_variable_and_the_profile(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"ADOSCALE_PROFILE_LAUNCH": value})
    assert "ADOSCALE_PROFILE_LAUNCH" in str(caught.value)
    assert message in str(caught.value)
