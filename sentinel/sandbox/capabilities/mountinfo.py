"""Parse ``/proc/self/mountinfo`` (format in proc(5))."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MountEntry:
    """One line of mountinfo: where, what type, and the super-block options."""

    mountpoint: str
    fstype: str
    super_options: tuple[str, ...]


def _unescape(field: str) -> str:
    # The kernel escapes space, tab, newline and backslash as three-digit octal.
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def parse_mountinfo(text: str) -> list[MountEntry]:
    """Parse mountinfo text; malformed lines are skipped (the kernel never writes them)."""
    entries = []
    # Split on "\n" and " " only: the kernel escapes those in paths, but not "\r" or the
    # other characters that str.splitlines() and str.split() would also break on.
    for line in text.split("\n"):
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(" "), right.split(" ")
        if not sep or len(fields) < 5 or len(tail) < 3:
            continue
        entries.append(MountEntry(_unescape(fields[4]), tail[0], tuple(tail[2].split(","))))
    return entries
