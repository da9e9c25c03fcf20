"""Allocation: agencies, campaigns, exclusive ownership of pool leads, fair rounds, release and
refill. See docs/allocation.md for the policies.

Public entry points (services take a ``Session`` and never commit):

- :func:`leadpool.allocation.agencies.create_agency`, ``cancel_agency``, ``reactivate_agency``
- :func:`leadpool.allocation.campaigns.create_campaign`, ``activate_campaign``, ``pause_campaign``,
  ``resume_campaign``, ``finish_campaign``
- :func:`leadpool.allocation.allocate.allocate` and :func:`leadpool.allocation.rounds.allocate_round`
- :func:`leadpool.allocation.icp.parse_icp` / ``load_icp_file`` (the ICP model) and ``compile_icp``
- :mod:`leadpool.allocation.refill` (the procrastinate task and ``list_refill_jobs``)
"""
