"""Privacy: erasure of a person (GDPR Art. 17) while keeping them suppressed for good; the
platform blocklist."""

from leadpool.privacy.blocklist import BlocklistResult, blocklist
from leadpool.privacy.erase import ErasureResult, erase

__all__ = ["BlocklistResult", "ErasureResult", "blocklist", "erase"]
