"""Type stubs for :mod:`sentinel._native`, the Rust core (``native/sentinel-py``).

Every function here has a pure-Python reference elsewhere in the package and a property
test that pins the two equal. Checked against the compiled module by ``mypy.stubtest``.
"""

from typing import Any

__all__ = ["__version__", "build_info", "merkle_leaf_hashes", "merkle_root"]

__version__: str

def build_info() -> dict[str, Any]:
    """How this extension was built.

    Returns:
        A dict with ``version`` (crate version), ``profile`` (``"release"`` or ``"debug"``),
        ``features`` (enabled cargo features), ``rustc`` (``rustc --version`` of the
        compiler used), ``target`` (the target triple) and ``debug_assertions``.
    """

def merkle_leaf_hashes(items: list[bytes]) -> list[bytes]:
    """RFC 6962 leaf hashes, ``SHA-256(0x00 || item)``, for each item.

    Reference: :func:`sentinel.audit.merkle.reference_leaf_hash`.
    """

def merkle_root(leaf_hashes: list[bytes]) -> bytes:
    """RFC 6962 Merkle tree hash over already-hashed leaves.

    Reference: :func:`sentinel.audit.merkle.reference_root`.

    Raises:
        sentinel.errors.InvalidInputError: An item is not 32 bytes long; the message names
            its index.
    """
