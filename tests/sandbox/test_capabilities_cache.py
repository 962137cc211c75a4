"""The per-boot detection cache: a hit while the key holds, a miss when it changes, and
refusal of any file root did not write exactly as it writes them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sentinel.sandbox import HostCapabilities, detect
from sentinel.sandbox.capabilities import cache
from sentinel.sandbox.capabilities.cache_key import cache_key
from tests.sandbox.simulated_host import SimulatedHost, build_healthy_tree

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="only root keeps the cache")


@pytest.fixture(scope="module")
def answer(tmp_path_factory: pytest.TempPathFactory) -> HostCapabilities:
    """A full detection report (of a simulated host: quick, and unlike this one)."""
    return detect(SimulatedHost(build_healthy_tree(tmp_path_factory.mktemp("host"))))


@pytest.fixture
def cache_file(tmp_path: Path) -> Path:
    directory = tmp_path / "run-sentinel"
    directory.mkdir(mode=0o700)
    return directory / "host-capabilities.json"


def _counting(answer: HostCapabilities) -> tuple[Callable[[], HostCapabilities], list[int]]:
    calls: list[int] = []

    def detector() -> HostCapabilities:
        calls.append(1)
        return answer

    return detector, calls


def test_a_hit_while_the_key_holds(answer: HostCapabilities, cache_file: Path) -> None:
    detector, calls = _counting(answer)
    assert cache.cached_detect(detector, path=cache_file) == answer
    assert cache.cached_detect(detector, path=cache_file) == answer
    assert len(calls) == 1  # the second came from the file
    info = cache_file.stat()
    assert (info.st_uid, info.st_mode & 0o777) == (0, 0o600)
    assert cache.cached_detect(detector, path=cache_file, refresh=True) == answer
    assert len(calls) == 2  # doctor's refresh detects even on a hit


@pytest.mark.parametrize(
    "change",
    [
        lambda key: key["files"].update({"/proc/sys/kernel/random/boot_id": "another boot\n"}),
        lambda key: key["files"].update({"/proc/sys/kernel/osrelease": "9.9.9\n"}),
        lambda key: key["tools"].update({"bwrap": "/usr/bin/bwrap:1:2:3:4:755:0"}),
        lambda key: key.update({"sentinel": "0.0.0-other"}),
        lambda key: key["files"].update({"/proc/sys/kernel/unprivileged_userns_clone": "0\n"}),
    ],
    ids=["boot", "kernel", "bwrap", "version", "sysctl"],
)
def test_a_changed_key_is_a_miss(
    answer: HostCapabilities,
    cache_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    change: Callable[[dict[str, object]], None],
) -> None:
    key = cache.cache_key()
    assert cache.store_cached(key, answer, cache_file)
    assert cache.load_cached(key, cache_file) == answer  # control: the same key hits
    changed = json.loads(json.dumps(key))
    change(changed)
    assert cache.load_cached(changed, cache_file) is None
    monkeypatch.setattr(cache, "cache_key", lambda: changed)
    detector, calls = _counting(answer)
    cache.cached_detect(detector, path=cache_file)
    assert len(calls) == 1 and cache.load_cached(changed, cache_file) == answer  # rewritten


def test_the_key_follows_the_host() -> None:
    key = cache.cache_key()
    with open("/proc/sys/kernel/random/boot_id") as handle:  # noqa: PTH123
        assert key["files"]["/proc/sys/kernel/random/boot_id"] == handle.read()
    assert key["tools"]["bwrap"] is None or key["tools"]["bwrap"].split(":")[0].endswith("bwrap")
    assert key == cache.cache_key()


def _tamper_content(path: Path) -> None:
    document = json.loads(path.read_text())
    document["capabilities"]["layers"][0]["verdict"] = "available"
    document["capabilities"]["layers"][0]["reason"] = "planted"
    path.write_text(json.dumps(document))


def _symlink_to_a_planted_copy(path: Path) -> None:
    planted = path.parent.parent / "planted.json"
    planted.write_bytes(path.read_bytes())
    planted.chmod(0o600)
    path.unlink()
    path.symlink_to(planted)


def _hard_link(path: Path) -> None:
    os.link(path, path.parent.parent / "second-name")


def _group_writable_directory(path: Path) -> None:
    path.parent.chmod(0o770)


@pytest.mark.parametrize(
    "tamper",
    [
        _tamper_content,
        lambda path: path.chmod(0o644),
        lambda path: os.chown(path, 65534, 65534),
        lambda path: os.chown(path.parent, 65534, 65534),
        _group_writable_directory,
        _symlink_to_a_planted_copy,
        _hard_link,
        lambda path: path.write_text("{not json"),
    ],
    ids=[
        "content", "mode", "owner", "dir-owner", "dir-writable", "symlink", "hardlink", "torn",
    ],
)  # fmt: skip
def test_a_file_root_did_not_write_is_refused(
    answer: HostCapabilities, cache_file: Path, tamper: Callable[[Path], None]
) -> None:
    key = cache.cache_key()
    assert cache.store_cached(key, answer, cache_file)
    assert cache.load_cached(key, cache_file) == answer  # control: untouched, it is read
    tamper(cache_file)
    assert cache.load_cached(key, cache_file) is None


def test_writing_never_follows_a_planted_link(answer: HostCapabilities, cache_file: Path) -> None:
    victim = cache_file.parent.parent / "victim"
    victim.write_text("root's file\n")
    cache_file.symlink_to(victim)
    assert cache.store_cached(cache.cache_key(), answer, cache_file)
    assert victim.read_text() == "root's file\n"  # the link was replaced, not followed
    assert not cache_file.is_symlink() and cache_file.stat().st_mode & 0o777 == 0o600
    cache_file.parent.chmod(0o777)  # a directory others may write: nothing is written there
    cache_file.unlink()
    assert not cache.store_cached(cache.cache_key(), answer, cache_file)
    assert not cache_file.exists()


def test_construct_builds_what_validation_builds(answer: HostCapabilities, tmp_path: Path) -> None:
    """The cache's unvalidated construction is pinned to pydantic's validation."""
    without_bwrap = build_healthy_tree(tmp_path / "other")
    (without_bwrap / "usr/bin/bwrap").unlink()
    for report in (answer, detect(SimulatedHost(without_bwrap))):
        data = report.model_dump(mode="json")
        built = cache.construct(HostCapabilities, data)
        assert built == HostCapabilities.model_validate(data) == report
        assert built.model_dump(mode="json") == data
    broken = answer.model_dump(mode="json")
    del broken["bwrap"]
    with pytest.raises(KeyError):
        cache.construct(HostCapabilities, broken)
    broken = {**answer.model_dump(mode="json"), "planted": 1}
    with pytest.raises(KeyError):
        cache.construct(HostCapabilities, broken)


def test_another_mount_namespace_has_another_key() -> None:
    """``ip netns exec`` remounts /sys: what it detects must not be served to the host."""
    here = cache_key()["mount_namespace"]
    assert here and here.startswith("mnt:[")
    program = (
        "from sentinel.sandbox.capabilities.cache_key import cache_key;"
        "print(cache_key()['mount_namespace'])"
    )
    same = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          check=True)  # fmt: skip
    other = subprocess.run(["unshare", "-m", sys.executable, "-c", program],
                           capture_output=True, text=True, check=True)  # fmt: skip
    assert same.stdout.strip() == here  # negative control: the same namespace, the same key
    assert other.stdout.strip() != here
