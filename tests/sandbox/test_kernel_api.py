"""The raw probes against the real kernel, each with a case the kernel must refuse.

A probe that always said "yes" would make every verdict worthless, so each one is shown
to report a refusal where the kernel's rules demand one.
"""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path

import pytest

from sentinel.errors import HostProbeError
from sentinel.sandbox import kernel_api
from sentinel.sandbox.capabilities.host import HostView

pytestmark = pytest.mark.host

NOBODY = (65534, 65534)


@pytest.fixture
def host() -> HostView:
    return HostView()


def test_netns_without_userns_is_refused_to_an_unprivileged_uid(host: HostView) -> None:
    # Creating a network namespace needs CAP_SYS_ADMIN in the owning user namespace.
    refused = host.unshare_probe(kernel_api.CLONE_NEWNET, as_uid=NOBODY)
    assert not refused.ok
    assert refused.errno == errno.EPERM
    # ...which the same uid gets inside a fresh user namespace of its own.
    assert host.unshare_probe(kernel_api.CLONE_NEWUSER | kernel_api.CLONE_NEWNET, as_uid=NOBODY).ok


def test_bpf_load_is_refused_to_an_unprivileged_uid() -> None:
    # Tracing program types need CAP_BPF and CAP_PERFMON whatever unprivileged_bpf_disabled says.
    err = kernel_api.errno_in_child(
        lambda: (
            kernel_api.drop_to_uid(*NOBODY) or kernel_api.bpf_attach_raw_tracepoint("sys_enter")[0]
        )
    )
    assert err == errno.EPERM


def test_raw_tracepoint_attach_to_unknown_tracepoint_fails(host: HostView) -> None:
    load, attach = kernel_api.bpf_attach_raw_tracepoint("sentinel_no_such_tracepoint")
    assert load == 0
    assert attach == errno.ENOENT


def test_seccomp_filter_load_is_refused_without_no_new_privs_to_unprivileged() -> None:
    # Without NO_NEW_PRIVS an unprivileged process may not install a filter (seccomp(2)).
    def as_nobody(no_new_privs: bool) -> int:
        return kernel_api.drop_to_uid(*NOBODY) or kernel_api.load_allow_all_seccomp_filter(
            no_new_privs=no_new_privs
        )

    assert kernel_api.errno_in_child(lambda: as_nobody(False)) == errno.EACCES
    assert kernel_api.errno_in_child(lambda: as_nobody(True)) == 0


def test_mkdir_probe_reports_a_missing_interface_file(host: HostView, tmp_path: Path) -> None:
    probe = host.mkdir_probe(str(tmp_path), expect_file="pids.max")
    assert not probe.ok
    assert probe.errno == errno.ENOENT
    assert list(tmp_path.iterdir()) == []


def test_mkdir_probe_reports_a_read_only_parent(host: HostView) -> None:
    probe = host.mkdir_probe("/proc")
    assert not probe.ok


def test_landlock_query_matches_a_second_query() -> None:
    abi, err = kernel_api.landlock_abi_version()
    assert err == 0
    assert abi >= 1
    assert kernel_api.landlock_abi_version() == (abi, err)


def test_child_that_dies_is_a_probe_error_not_a_verdict() -> None:
    def die() -> int:
        os.kill(os.getpid(), signal.SIGKILL)
        return 0

    with pytest.raises(HostProbeError, match="died unexpectedly"):
        kernel_api.errno_in_child(die)
