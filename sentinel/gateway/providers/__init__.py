"""Model providers: the deterministic offline provider and litellm for everything else."""

from sentinel.gateway.providers.base import CallFailure, Provider, ProviderReply, estimate_tokens
from sentinel.gateway.providers.litellm_provider import LiteLLMProvider
from sentinel.gateway.providers.offline import OfflineProvider

__all__ = [
    "CallFailure",
    "LiteLLMProvider",
    "OfflineProvider",
    "Provider",
    "ProviderReply",
    "estimate_tokens",
]
