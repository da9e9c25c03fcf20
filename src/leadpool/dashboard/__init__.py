"""The dashboard: server-rendered pages (Jinja2, inline SVG charts) mounted at ``/`` by the API."""
