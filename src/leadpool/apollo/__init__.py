"""Apollo: the API client, enrichment that never pays twice, a fake server, and sample data.

Modules (import them directly; this package imports nothing so that light users such as the
generator do not pull in the database layer):

- ``client``: :class:`~leadpool.apollo.client.ApolloClient` (httpx; search, match, bulk_match,
  organization enrich; retries, rate-limit headers, credit counting).
- ``errors``: ``ApolloError`` and its subclasses (``AuthError``, ``RateLimited``,
  ``ApolloUnavailable``, ``ApolloRequestError``, ``ChargeUncertain``, ``PaidCallRefused``).
- ``enrich``: ``enrich_people`` and ``search_and_enrich`` (refill), storing every response.
- ``fake``: :class:`~leadpool.apollo.fake.FakeApollo`, a real local HTTP server for tests and demos.
- ``generate``: ``generate_people``, deterministic Apollo-shaped sample people.
"""
