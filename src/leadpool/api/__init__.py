"""The HTTP service: REST API, ops endpoints and the dashboard (``create_app``)."""
