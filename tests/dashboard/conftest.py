"""The dashboard tests share the API tests' live server and world builder."""

from api.conftest import api, live  # noqa: F401
