"""Privacy: erasure of a person (GDPR Art. 17) while keeping them suppressed for good."""

from leadpool.privacy.erase import ErasureResult, erase

__all__ = ["ErasureResult", "erase"]
