"""The one exception hierarchy of Sentinel.

Every error Sentinel raises on purpose is a :class:`SentinelError`. Where the meaning of a
standard exception fits, the class subclasses it too, so ``except ValueError`` keeps working
for callers that do not know Sentinel (``ConfigError`` is a ``ValueError``,
``SandboxUnavailable`` is a ``RuntimeError``). Messages say what failed, where (file, field,
position) and what to do about it.
"""

from __future__ import annotations

from pathlib import Path


class SentinelError(Exception):
    """Base class of every error Sentinel raises deliberately."""


class InvalidInputError(SentinelError, ValueError):
    """An argument passed to a Sentinel function is malformed.

    Raised for programming errors at an API boundary (a digest of the wrong length, a batch
    with a bad item); the message names the offending position. Unlike :class:`ConfigError`
    it is not tied to a file.
    """


class InvalidEventError(InvalidInputError):
    """An audit event cannot be stored as given.

    Raised before anything is written: the payload holds a value JSON cannot represent
    (bytes, NaN, a set, a non-string key), a field has the wrong type or form, or the event
    is larger than the store accepts. The message names the event and the path inside it,
    such as ``events[3].payload.argv[2]``. Nothing of the batch is stored.
    """


class ConfigError(SentinelError, ValueError):
    """A configuration file or value is invalid.

    Args:
        message: What is wrong and how to fix it.
        path: The file the value came from, if any.
        field: The dotted field name inside that file, if known.
    """

    def __init__(
        self, message: str, *, path: Path | str | None = None, field: str | None = None
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.field = field
        where = ", ".join(
            part
            for part in (
                str(self.path) if self.path is not None else "",
                f"field {field!r}" if field else "",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)


class PolicyError(ConfigError):
    """A sandbox policy is invalid; the message names the file and the field.

    Raised instead of loading a policy that would widen access silently (a bind of the
    host root, a writable path outside the workspace, exec where agents write...).
    """


class SandboxError(SentinelError, RuntimeError):
    """A sandbox could not be built, run or torn down."""


class ImageLockedError(SandboxError, BlockingIOError):
    """Another process holds a workspace image's lock (:mod:`sentinel.sandbox.image_lock`).

    Raised at once to ``sandbox gc`` (which never waits and keeps the image), and to a
    launcher only after it waited for the lock's bound.
    """


class SandboxUnavailable(SandboxError):  # noqa: N818 - reads as a state, as in STYLE.md
    """A sandbox layer that the policy requires is not offered by this host.

    Raised instead of running with a weaker sandbox: Sentinel never fails open. The message
    names the layer, the reason found by detection and the command that would fix it.

    Args:
        layer: The layer that is missing (``"landlock"``, ``"cgroups"`` ...).
        reason: Why detection found it unusable.
        fix: A command or step that would make it available, if one is known.
    """

    def __init__(self, layer: str, reason: str, fix: str | None = None) -> None:
        self.layer = layer
        self.reason = reason
        self.fix = fix
        message = f"sandbox layer {layer!r} is unavailable: {reason}"
        if fix:
            message += f" (fix: {fix})"
        super().__init__(message)


class SandboxDegradedWarning(UserWarning):
    """A sandbox runs in degraded mode, without some layers its policy requires.

    Issued on every command run that way, naming the missing layers; the command's
    result lists the layers that were active.
    """


class ProbeUnavailable(SentinelError, OSError):  # noqa: N818 - reads as a state
    """The kernel probes cannot run here (not root, no BTF, the verifier refused).

    Args:
        reason: What failed, in the kernel's or libbpf's words.
        fix: What would make them available, if known.
    """

    def __init__(self, reason: str, fix: str | None = None) -> None:
        self.reason = reason
        self.fix = fix
        message = f"the kernel probes are unavailable: {reason}"
        if fix:
            message += f" (fix: {fix})"
        super().__init__(message)


class HostProbeError(SentinelError, OSError):
    """Probing the host failed in a way that says nothing about the host's abilities.

    Detection reports missing features as verdicts, not exceptions; this is raised only when
    the probe machinery itself breaks (for example, ``fork`` fails for lack of memory).
    """


class HostError(SentinelError, RuntimeError):
    """A multi-host run could not go on (every worker host lost, a worker failed to start)."""


class HostLost(HostError, ConnectionError):  # noqa: N818 - reads as a state
    """A worker host (or its coordinator) is gone: closed, killed, or sent a bad frame.

    The coordinator re-places the lost host's agents on the others; unlike
    :class:`HostError` itself, the run goes on.
    """


class AuditError(SentinelError):
    """The audit store refused or failed an operation; what was stored before is intact."""


class StoreCorruptError(AuditError):
    """The database file is not a Sentinel audit store, or SQLite reports it damaged.

    The message names the file. Run ``sentinel-run audit verify`` on a copy to see which
    positions survive.
    """


class WrongExpectedRevisionError(AuditError):
    """An append named the stream revision it expected, and the stream is elsewhere.

    Args:
        stream: The stream appended to.
        expected: The revision the caller expected (-1: the stream must not exist).
        actual: The stream's current revision (-1: it does not exist).
    """

    def __init__(self, stream: str, expected: int, actual: int) -> None:
        self.stream, self.expected, self.actual = stream, expected, actual
        super().__init__(
            f"stream {stream!r}: expected revision {expected}, but the stream is at {actual}"
        )


class StoreClosedError(AuditError):
    """The store was closed; open it again to append or read."""


class CheckpointError(AuditError, ValueError):
    """A checkpoint or verifier key is malformed, or its signature does not verify."""


class ChainBrokenError(AuditError):
    """Verification found the log altered; the message names the first bad position."""


class GatewayError(SentinelError):
    """The model gateway refused or could not answer a request.

    Each subclass carries a stable ``code`` (the ``error.code`` member of the HTTP API's JSON
    error body) and the HTTP ``status`` it is served with, so library callers and HTTP
    clients see the same refusal.
    """

    code: str = "gateway_error"
    status: int = 500
    param: str | None = None
    """The request member at fault (``messages.0.content``), the ``error.param`` of OpenAI's
    error body; None when no single member is."""


class GatewayRequestError(GatewayError, InvalidInputError):
    """The request is malformed: not chat-completions JSON, a bad field, bad metadata.

    Args:
        message: What is wrong, naming the member.
        param: The member at fault, dotted (``messages.0.content``), if one is.
    """

    code = "bad_request"
    status = 400

    def __init__(self, message: str, *, param: str | None = None) -> None:
        self.param = param
        super().__init__(message)


class ModelNotFoundError(GatewayRequestError):
    """The request names a model that no provider serves and no alias maps."""

    code = "model_not_found"
    status = 404


class UnknownRouteError(GatewayRequestError):
    """The HTTP path (or its method) is not one the gateway serves."""

    code = "unknown_url"
    status = 404


class RequestTooLargeError(GatewayRequestError):
    """The request body is larger than ``limits.max_body_bytes`` of the gateway settings."""

    code = "request_too_large"
    status = 413


class UnknownAgentError(GatewayError):
    """No agent is known for the API key (or the key is missing); nothing was forwarded."""

    code = "unknown_agent"
    status = 401


class AgentForbiddenError(GatewayError):
    """The agent is known but may not do this (another agent's identity, a model it may not use)."""

    code = "forbidden"
    status = 403


class RateLimitedError(GatewayError):
    """A token bucket (per agent or global) is empty; retry after ``retry_after_s``."""

    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)


class BudgetExhaustedError(GatewayError):
    """A budget (tokens, money or requests; per agent, team or global) cannot cover the call.

    Raised before the call is made: budgets are reserved first and settled after.
    """

    code = "budget_exhausted"
    status = 402


class PromptBlockedError(GatewayError):
    """A prompt screen (a secret, an injection marker) blocked the request."""

    code = "prompt_blocked"
    status = 400


class BreakerOpenError(GatewayError):
    """Every provider the request may use has an open circuit breaker; nothing was sent."""

    code = "breaker_open"
    status = 503


class ProviderError(GatewayError):
    """Every provider tried failed (timeout, network, 5xx, 429); the message names them."""

    code = "provider_error"
    status = 502


class UpstreamRateLimitedError(RateLimitedError):
    """The provider answered 429: passed through with its ``Retry-After`` (or 1 s)."""

    code = "upstream_rate_limited"


class UpstreamRejectedError(GatewayError):
    """The provider refused the request itself (a 4xx other than 408 and 429).

    The client's input is at fault, not the provider, so it does not count against the
    provider's breaker.

    Args:
        message: The provider's message.
        status: The provider's HTTP status, passed through.
    """

    code = "upstream_rejected"

    def __init__(self, message: str, *, status: int = 400) -> None:
        self.status = status
        super().__init__(message)


class KeyRevokedError(UnknownAgentError):
    """The API key is a virtual key that was revoked; nothing was forwarded."""

    code = "key_revoked"


class AdminAuthError(GatewayError):
    """The admin API was called without the admin key (or no admin key is configured)."""

    code = "admin_unauthorized"
    status = 401


class KeyNotFoundError(GatewayError):
    """The admin API was asked about a virtual key that does not exist."""

    code = "key_not_found"
    status = 404


class GatewayInternalError(GatewayError):
    """A fault inside the gateway (a bug): the request was not answered.

    Nothing was charged unless a provider had already been called.
    """

    code = "internal_error"
    status = 500


class BusError(SentinelError, RuntimeError):
    """The live bus (Zenoh) cannot be opened or used; runs go on without it."""


class DurableError(SentinelError, RuntimeError):
    """Replicating to or mirroring from NATS JetStream failed (cluster down, stream missing)."""
