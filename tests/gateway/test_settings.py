"""Settings: config/gateway.toml equals the embedded defaults; errors name file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel.errors import ConfigError
from sentinel.gateway import DEMO_PERSONAS, Gateway, GatewaySettings, load_personas, load_settings
from sentinel.gateway.persona import persona_index

CONFIG = Path(__file__).resolve().parents[2] / "config" / "gateway.toml"


def test_config_file_equals_embedded_defaults() -> None:
    assert load_settings(CONFIG) == GatewaySettings()
    assert load_settings(None) == GatewaySettings()


def test_errors_name_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "gateway.toml"
    bad.write_text("[breaker]\nopen_s = -1\n")
    with pytest.raises(ConfigError, match=r"gateway\.toml, field 'breaker\.open_s'"):
        load_settings(bad)
    bad.write_text('[routing]\nprimary = "nowhere"\n')
    with pytest.raises(ConfigError, match="unknown provider 'nowhere'"):
        load_settings(bad)
    bad.write_text('[[synthesis.rules]]\nid = "x"\nwhen = ["B>="]\naction_type = "work"\n'
                   'introvert = "a"\nextrovert = "b"\n')  # fmt: skip
    settings = load_settings(bad)  # the condition is compiled by the gateway
    with pytest.raises(ValueError, match="condition"):
        Gateway(settings, ledger_path=":memory:")
    bad.write_text("not = [toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.toml")


def test_personas_load_from_a_folder(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('id = "AGENT-07"\nname = "Ada"\nrole = "developer"\nteam = "core"\n'
                                     'capabilities = ["git"]\n[personality]\nextraversion = 0.9\n')  # fmt: skip
    [ada] = load_personas(tmp_path)
    assert ada.personality.extravert and ada.capabilities == ("git",)
    (tmp_path / "b.toml").write_text(
        'id = "AGENT-08"\nname = "B"\nrole = "qa"\nteam = "core"\nshift = 7\n'
    )
    with pytest.raises(ConfigError, match=r"b\.toml, field 'shift'"):
        load_personas(tmp_path)
    with pytest.raises(ConfigError, match="defined twice"):
        persona_index([*DEMO_PERSONAS, DEMO_PERSONAS[0]])


def test_persona_digest_changes_with_any_field() -> None:
    dana = DEMO_PERSONAS[0]
    assert dana.digest() == dana.model_copy().digest()
    assert dana.digest() != dana.model_copy(update={"bio": "changed"}).digest()
