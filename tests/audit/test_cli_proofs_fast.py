"""``audit prove`` and ``audit verify-proof`` without Typer: same parse, same output, and
the fast start really skips Typer and pydantic."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentinel.audit import AuditStore
from sentinel.cli import app
from sentinel.cli.audit_proofs import ProveRequest, VerifyProofRequest, fast_main, parse
from tests.audit.conftest import fill

runner = CliRunner()


@pytest.fixture
def sealed(tmp_path: Path) -> tuple[Path, str, str]:
    path = tmp_path / "fast.db"
    with AuditStore(path, checkpoint_every=5) as store:
        fill(store, 12)
        event_id = store.at(7).event_id  # type: ignore[union-attr]
        key = str(store.verifier_key)
    return path, event_id, key


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["prove", "E"], ProveRequest("E")),
        (["prove", "E", "--store", "s.db"], ProveRequest("E", store=Path("s.db"))),
        (["prove", "--out", "p.json", "E"], ProveRequest("E", out=Path("p.json"))),
        (["verify-proof", "p.json", "--key", "k"], VerifyProofRequest(Path("p.json"), ["k"])),
        (
            ["verify-proof", "--json", "p.json", "--key", "a", "--key", "b"],
            VerifyProofRequest(Path("p.json"), ["a", "b"], as_json=True),
        ),
        # Everything else is Typer's: help, --opt=value, repeats, unknown or missing words.
        (["prove", "--help"], None),
        (["prove"], None),
        (["prove", "E", "F"], None),
        (["prove", "E", "--store=s.db"], None),
        (["prove", "E", "--store", "a", "--store", "b"], None),
        (["prove", "E", "--store"], None),
        (["verify-proof", "p.json"], None),
        (["verify-proof", "p.json", "--key", "k", "--json", "--json"], None),
        (["verify", "--store", "s.db"], None),
    ],
)
def test_parse_takes_only_the_forms_it_is_sure_of(
    argv: list[str], expected: ProveRequest | VerifyProofRequest | None
) -> None:
    assert parse(argv) == expected


def test_both_paths_print_the_same(
    sealed: tuple[Path, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, event_id, key = sealed
    assert fast_main(["prove", event_id, "--store", str(path)]) == 0
    fast = capsys.readouterr().out
    typer_path = runner.invoke(app, ["audit", "prove", event_id, "--store", str(path)])
    assert typer_path.exit_code == 0
    assert fast == typer_path.stdout
    proof = tmp_path / "proof.json"
    proof.write_text(fast)
    argv = ["verify-proof", str(proof), "--key", key, "--json"]
    assert fast_main(argv) == 0
    fast = capsys.readouterr().out
    assert json.loads(fast)["ok"] is True
    assert fast == runner.invoke(app, ["audit", *argv]).stdout
    document = json.loads(proof.read_text())
    document["path"][0] = "00" * 32
    proof.write_text(json.dumps(document))
    assert fast_main(argv[:-1]) == 1
    assert "invalid: the Merkle path does not lead" in capsys.readouterr().out


def test_bad_input_is_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.db"
    assert fast_main(["prove", "E", "--store", str(missing)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and error.count("\n") == 1 and "no such audit store" in error
    not_a_proof = tmp_path / "p.json"
    not_a_proof.write_text("{}")
    assert fast_main(["verify-proof", str(not_a_proof), "--key", "a+b+c", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["ok"] is False
    assert fast_main(["verify-proof", str(tmp_path / "gone.json"), "--key", "a+b+c"]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_the_entry_point_skips_typer_and_pydantic(sealed: tuple[Path, str, str]) -> None:
    path, event_id, _ = sealed
    program = (
        "import atexit, sys\n"
        "atexit.register(lambda: print(sorted(m for m in ('typer', 'pydantic', 'rich') "
        "if m in sys.modules), file=sys.stderr))\n"
        f"sys.argv = ['sentinel-run', 'audit', 'prove', {event_id!r}, '--store', {str(path)!r}]\n"
        "from sentinel.cli import main\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["position"] == 7
    assert done.stderr.strip() == "[]"
