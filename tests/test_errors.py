from __future__ import annotations

from pathlib import Path

import pytest

from sentinel import errors


@pytest.mark.parametrize(
    ("cls", "stdlib"),
    [
        (errors.InvalidInputError, ValueError),
        (errors.ConfigError, ValueError),
        (errors.SandboxError, RuntimeError),
        (errors.SandboxUnavailable, RuntimeError),
        (errors.HostProbeError, OSError),
    ],
)
def test_every_error_is_a_sentinel_error_and_its_stdlib_kin(
    cls: type[Exception], stdlib: type[Exception]
) -> None:
    assert issubclass(cls, errors.SentinelError)
    assert issubclass(cls, stdlib)


def test_config_error_names_file_and_field() -> None:
    err = errors.ConfigError("must be positive", path=Path("config/sim.toml"), field="tick.seconds")
    assert str(err) == "config/sim.toml, field 'tick.seconds': must be positive"
    assert err.path == Path("config/sim.toml")
    assert err.field == "tick.seconds"
    assert str(errors.ConfigError("bad")) == "bad"


def test_sandbox_unavailable_says_layer_reason_and_fix() -> None:
    err = errors.SandboxUnavailable("landlock", "disabled at boot", "add landlock to lsm=")
    assert (
        str(err)
        == "sandbox layer 'landlock' is unavailable: disabled at boot (fix: add landlock to lsm=)"
    )
    assert (err.layer, err.reason, err.fix) == (
        "landlock",
        "disabled at boot",
        "add landlock to lsm=",
    )
