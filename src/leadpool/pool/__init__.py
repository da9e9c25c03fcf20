"""The pool's read side: one lead with everything stored about it, and counts over the pool."""

from leadpool.pool.leads import find_lead, lead_detail
from leadpool.pool.stats import pool_stats

__all__ = ["find_lead", "lead_detail", "pool_stats"]
