"""The dashboard's read-only workspace API: snapshots up to a position, a snapshot's tree,
one file (limited, text or hex, path checked), and refusals for what is not recorded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from sentinel.cas.browse import MAX_HEX_BYTES, MAX_SHOWN_BYTES
from sentinel.cas.checkout import object_path
from sentinel.cas.reference import object_id
from sentinel.dashboard import create_app
from tests.dashboard.workspace_store import (
    BINARY,
    HOSTILE_NAME,
    HOSTILE_TEXT,
    LARGE,
    WorkspaceRun,
    workspace_run,
)


@pytest.fixture
def recorded(tmp_path: Path) -> WorkspaceRun:
    return workspace_run(tmp_path)


@pytest.fixture
def client(recorded: WorkspaceRun) -> Iterator[TestClient]:
    with TestClient(create_app(recorded.store)) as test_client:
        yield test_client


def test_snapshots_up_to_a_position(client: TestClient, recorded: WorkspaceRun) -> None:
    first, other, second = recorded.positions
    before = client.get("/api/workspaces", params={"at": first - 1}).json()
    assert (before["total"], before["latest"]) == (0, [])
    middle = client.get("/api/workspaces", params={"at": second - 1}).json()
    assert middle["available"] and middle["objects"] == str(recorded.objects)
    assert [(s["agent_id"], s["root"]) for s in middle["latest"]] == [
        ("AGENT-01", recorded.first),
        ("AGENT-02", recorded.other),
    ]
    everything = client.get("/api/workspaces").json()
    assert everything["total"] == 3 and everything["at"] is None
    assert [s["position"] for s in everything["snapshots"]] == [first, other, second]
    assert everything["latest"][0]["root"] == recorded.second
    answer = client.get("/api/workspaces", params={"at": "soon"})
    assert answer.status_code == 400 and "at must be an integer" in answer.json()["error"]
    assert answer.headers["cache-control"] == "no-store"


def test_a_store_not_written_yet_has_no_snapshots(tmp_path: Path) -> None:
    with TestClient(create_app(tmp_path / "later.db")) as test_client:
        body = test_client.get("/api/workspaces").json()
    assert (body["total"], body["available"]) == (0, False)


def test_the_tree_of_a_snapshot(client: TestClient, recorded: WorkspaceRun) -> None:
    body = client.get("/api/workspace", params={"root": recorded.first}).json()
    assert body["truncated"] is False
    listed = [(e["path"], e["kind"], e["exact"], e["size"]) for e in body["entries"]]
    assert listed == [
        ("notes.txt", "file", True, len(b"version one\n")),
        ("src", "dir", True, None),
        (f"src/{HOSTILE_NAME}", "file", True, len(HOSTILE_TEXT)),
        ("src/blob.bin", "file", True, len(BINARY)),
        ("src/caf\\xe9.txt", "file", False, len(b"latin-1 name\n")),
        ("src/large.txt", "file", True, len(LARGE.encode())),
        ("src/out", "link", True, len(b"../../../etc/passwd")),
    ]
    notes = body["entries"][0]
    assert (notes["mode"], notes["uid"], notes["id"]) == (
        "0644",
        1000,
        object_id("file", b"version one\n"),
    )


def _file(client: TestClient, root: str, path: str) -> tuple[int, dict[str, object]]:
    answer = client.get("/api/workspace/file", params={"root": root, "path": path})
    return answer.status_code, answer.json()


def test_files_as_text_hex_and_cut(client: TestClient, recorded: WorkspaceRun) -> None:
    assert _file(client, recorded.first, "notes.txt")[1]["text"] == "version one\n"
    assert _file(client, recorded.second, "notes.txt")[1]["text"] == "version two\n"
    status, hostile = _file(client, recorded.first, f"src/{HOSTILE_NAME}")
    assert status == 200 and hostile["text"] == HOSTILE_TEXT and not hostile["binary"]
    _, binary = _file(client, recorded.first, "src/blob.bin")
    assert binary["binary"] and binary["text"] is None and binary["truncated"]
    assert binary["hex"] == BINARY[:MAX_HEX_BYTES].hex() and binary["size"] == len(BINARY)
    _, large = _file(client, recorded.first, "src/large.txt")
    assert large["truncated"] and not large["binary"]
    assert large["text"] == LARGE[: MAX_SHOWN_BYTES // 2] and large["size"] == 2 * MAX_SHOWN_BYTES
    _, link = _file(client, recorded.first, "src/out")
    assert (link["kind"], link["text"]) == ("link", "../../../etc/passwd")  # shown, not followed


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("../run.db", 400, "path component 1"),
        ("src/../notes.txt", 400, "path component 2"),
        ("/etc/passwd", 400, "no leading /"),
        ("src//blob.bin", 400, "path component 2"),
        ("", 400, "path must be"),
        ("x" * 5000, 400, "path must be"),
        ("src/" + "y" * 256, 400, "path component 2"),
        ("src", 404, "src: a directory"),
        ("notes.txt/inner", 404, "notes.txt: not a directory"),
        ("missing.txt", 404, "missing.txt: not in snapshot"),
        ("src/caf\N{REPLACEMENT CHARACTER}.txt", 404, "not in snapshot"),
    ],
)
def test_paths_are_checked(
    client: TestClient, recorded: WorkspaceRun, path: str, status: int, message: str
) -> None:
    answer_status, body = _file(client, recorded.first, path)
    assert answer_status == status and message in str(body["error"])


def test_only_recorded_roots_are_served(client: TestClient, recorded: WorkspaceRun) -> None:
    for endpoint in ("/api/workspace", "/api/workspace/file"):
        bad = client.get(endpoint, params={"root": "../../etc", "path": "passwd"})
        assert bad.status_code == 400 and "64 lower-case hex" in bad.json()["error"]
    # The src tree is an object of the store, but no snapshot's root.
    src = next(
        e["id"]
        for e in client.get("/api/workspace", params={"root": recorded.first}).json()["entries"]
        if e["path"] == "src"
    )
    refused = client.get("/api/workspace", params={"root": src})
    assert refused.status_code == 404 and "not a snapshot recorded" in refused.json()["error"]


def test_a_tampered_object_is_refused_not_shown(client: TestClient, recorded: WorkspaceRun) -> None:
    ident = object_id("file", b"version one\n")
    object_path(recorded.objects, ident).write_bytes(b"version evil\n")
    status, body = _file(client, recorded.first, "notes.txt")
    assert status == 409 and f"file {ident} does not match its bytes" in str(body["error"])
    # The tree lists (sizes are read from the store), the file is refused.
    assert client.get("/api/workspace", params={"root": recorded.first}).status_code == 200
