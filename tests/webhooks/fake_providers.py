"""Fake SendGrid, Mailgun and Postmark suppression APIs: one real HTTP server on 127.0.0.1.

Each speaks its documented shapes: SendGrid ``GET /v3/suppression/{list}`` (Bearer key;
``start_time``/``end_time`` epoch filters, inclusive; ``limit`` up to 500 and ``offset``; a JSON
array) and ``GET /v3/asm/suppressions`` (every group unsubscribe at once, ``created_at``; the
items under ``sendgrid["group_unsubscribes"]``), Mailgun ``GET /v3/{domain}/{list}`` (basic auth ``api:KEY``; ``limit`` up to 1000; pages
by address with ``page=next&address=``; ``{"items", "paging"}`` with absolute URLs, the last page
empty), Postmark ``GET /message-streams/{stream}/suppressions/dump`` (``X-Postmark-Server-Token``;
``fromdate`` a date, inclusive; ``{"Suppressions": [...]}``), SES v2 ``GET
/v2/email/suppression/addresses`` (AWS Signature Version 4, service ``ses``, recomputed from the
request as received; ``StartDate`` ISO 8601, ``PageSize``, ``NextToken``;
``{"SuppressedDestinationSummaries": [...], "NextToken"}``, times in epoch seconds). ``fail_next`` answers the next
requests with an error status; ``requests`` logs what was asked.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from leadpool.webhooks.reconcile.sigv4 import signature


@dataclass
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class FakeProviders:
    sendgrid_key: str = "SG.fixture-key"
    mailgun_key: str = "mailgun-fixture-key"
    postmark_tokens: tuple[str, ...] = ("postmark-fixture-token",)
    sendgrid: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # list -> items
    mailgun: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)  # (domain, list)
    postmark: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)  # (token, stream)
    ses_keys: tuple[str, str] = ("AKIDFIXTURE", "ses-fixture-secret")
    ses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # region -> summaries
    requests: list[Request] = field(default_factory=list)
    failures: list[tuple[str, int, dict[str, str]]] = field(
        default_factory=list
    )  # (path prefix, status, query)
    base_url: str = ""

    def fail_next(self, prefix: str, status: int, n: int = 1, query: dict[str, str] | None = None) -> None:
        """The next ``n`` requests whose path starts with ``prefix`` (and whose query has ``query``)
        answer ``status``."""
        self.failures += [(prefix, status, query or {})] * n

    def asked(self, prefix: str) -> list[Request]:
        return [r for r in self.requests if r.path.startswith(prefix)]

    # --- the providers ------------------------------------------------------------------

    def answer(
        self, path: str, query: dict[str, str], headers: dict[str, str], raw_query: str = ""
    ) -> tuple[int, Any]:
        self.requests.append(Request(path, query, headers))
        for i, (prefix, status, want) in enumerate(self.failures):
            if path.startswith(prefix) and all(query.get(k) == v for k, v in want.items()):
                del self.failures[i]
                return status, {"message": "fake failure"}
        if path == "/v2/email/suppression/addresses":
            return self._ses(path, query, headers, raw_query)
        if path.startswith("/v3/suppression/"):
            return self._sendgrid(path.removeprefix("/v3/suppression/"), query, headers)
        if path == "/v3/asm/suppressions":
            if headers.get("authorization") != f"Bearer {self.sendgrid_key}":
                return 401, {"errors": [{"field": None, "message": "authorization required"}]}
            return 200, self.sendgrid.get("group_unsubscribes", [])
        if path.startswith("/message-streams/"):
            return self._postmark(path, query, headers)
        if path.startswith("/v3/"):
            return self._mailgun(path, query, headers)
        return 404, {"message": "not found"}

    def _sendgrid(self, name: str, q: dict[str, str], h: dict[str, str]) -> tuple[int, Any]:
        if h.get("authorization") != f"Bearer {self.sendgrid_key}":
            return 401, {"errors": [{"field": None, "message": "authorization required"}]}
        limit, offset = int(q.get("limit", "500")), int(q.get("offset", "0"))
        if not 1 <= limit <= 500:
            return 400, {"errors": [{"field": "limit", "message": "limit must be between 1 and 500"}]}
        items = self.sendgrid.get(name, [])
        start, end = int(q.get("start_time", "0")), int(q.get("end_time", str(2**40)))
        items = [i for i in items if start <= i["created"] <= end]
        items.sort(key=lambda i: -i["created"])  # newest first
        return 200, items[offset : offset + limit]

    def _mailgun(self, path: str, q: dict[str, str], h: dict[str, str]) -> tuple[int, Any]:
        expected = "Basic " + base64.b64encode(f"api:{self.mailgun_key}".encode()).decode()
        if h.get("authorization") != expected:
            return 401, "Forbidden"
        _, _, domain, name = path.split("/", 3)
        if (domain, name) not in self.mailgun and not any(d == domain for d, _ in self.mailgun):
            return 404, {"message": "Domain not found"}
        limit = int(q.get("limit", "100"))
        items = sorted(self.mailgun.get((domain, name), []), key=lambda i: i["address"])
        if q.get("page") == "next":
            items = [i for i in items if i["address"] > q.get("address", "")]
        page = items[:limit]
        base = f"{self.base_url}/v3/{domain}/{name}"
        last = page[-1]["address"] if page else q.get("address", "")
        paging = {
            "first": f"{base}?limit={limit}",
            "next": f"{base}?page=next&address={quote(last)}&limit={limit}",
            "previous": f"{base}?page=previous&address={quote(page[0]['address'] if page else '')}&limit={limit}",
            "last": f"{base}?page=last&limit={limit}",
        }
        return 200, {"items": page, "paging": paging}

    def _postmark(self, path: str, q: dict[str, str], h: dict[str, str]) -> tuple[int, Any]:
        token = h.get("x-postmark-server-token")
        if token not in self.postmark_tokens:
            return 401, {
                "ErrorCode": 10,
                "Message": "The Server Token you provided in the X-Postmark-Server-Token request header was invalid.",
            }
        stream = path.split("/")[2]
        items = self.postmark.get((token, stream), [])
        if "fromdate" in q:
            items = [i for i in items if i["CreatedAt"][:10] >= q["fromdate"]]
        return 200, {"Suppressions": items}

    def _ses(self, path: str, q: dict[str, str], h: dict[str, str], raw_query: str) -> tuple[int, Any]:
        auth = h.get("authorization", "")
        m = re.match(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([a-z0-9-]+)/ses/aws4_request, ", auth)
        if not m or m.group(1) != self.ses_keys[0] or not h.get("x-amz-date", "").startswith(m.group(2)):
            return 403, {"message": "The security token included in the request is invalid."}
        expected = signature(
            method="GET",
            host=h["host"],
            path=path,
            query=raw_query,
            amz_date=h["x-amz-date"],
            region=m.group(3),
            service="ses",
            access_key=self.ses_keys[0],
            secret_key=self.ses_keys[1],
            session_token=h.get("x-amz-security-token"),
        )
        if auth != expected:
            return 403, {
                "message": "The request signature we calculated does not match the signature you provided."
            }
        items = sorted(self.ses.get(m.group(3), []), key=lambda i: i["LastUpdateTime"])
        if "StartDate" in q:
            start = datetime.fromisoformat(q["StartDate"]).timestamp()
            items = [i for i in items if i["LastUpdateTime"] >= start]
        size, offset = int(q.get("PageSize", "1000")), int(q.get("NextToken", "0") or 0)
        body: dict[str, Any] = {"SuppressedDestinationSummaries": items[offset : offset + size]}
        if offset + size < len(items):
            body["NextToken"] = str(offset + size)
        return 200, body


def sendgrid_time(at: datetime) -> int:
    return int(at.timestamp())


def mailgun_time(at: datetime) -> str:
    return at.strftime("%a, %d %b %Y %H:%M:%S UTC")


@contextmanager
def serve(fake: FakeProviders) -> Iterator[FakeProviders]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, body = fake.answer(parts.path, query, headers, parts.query)
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain" if isinstance(body, str) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
