"""Normalisation of identity and contact values: plain functions over plain data, no database.

These run once per imported record, so the expensive parts (email domain validation, phone
parsing, country lookups) are cached: company domains, HQ numbers and countries repeat a lot.
Caches are bounded (a few thousand entries) so memory stays flat however large the import.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from urllib.parse import unquote, urlsplit

import phonenumbers
from email_validator import EmailNotValidError, validate_email

#: what Apollo puts in ``email`` before the address is revealed; it means "no email"
PLACEHOLDER_EMAILS = frozenset({"email_not_unlocked@domain.com"})

# A plain dot-atom local part (RFC 5322 atext and dots, no leading/trailing/double dot). Every
# such local part is accepted by email-validator unchanged, so only the domain needs its check.
_SIMPLE_LOCAL = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


_SPACE = re.compile(r"\s")

# A label in IDNA's ASCII form (``xn--mnchen-3ya.de``, as Apollo sends an international domain)
_ACE_LABEL = re.compile(r"(?:^|\.)xn--")


class NotNormalisable(ValueError):
    """A value of the right type that cannot be brought to its canonical form."""


@lru_cache(maxsize=8192)
def _domain_ok(domain: str) -> str:
    # Validating the domain dominates email-validator's cost and a company's people share it.
    try:
        return validate_email("a@" + domain, check_deliverability=False).domain.lower()
    except EmailNotValidError as e:
        raise NotNormalisable(str(e)) from None


def is_international(host: str) -> bool:
    """A host with a non-ASCII character or an ``xn--`` label: one ``idn_form`` may change."""
    return not host.isascii() or _ACE_LABEL.search(host) is not None


def idn_form(host: str) -> str:
    """An international domain in the one form the pool stores: email-validator's (Unicode,
    ``münchen.de`` for ``xn--mnchen-3ya.de`` or ``MÜNCHEN.de``), as ``normalize_email`` stores an
    address's domain, so a company's domain, its people's and a domain block compare as equal.

    Raises NotNormalisable for a name IDNA refuses (invalid punycode, a disallowed character).
    """
    return _domain_ok(host.lower())


@lru_cache(maxsize=1024)
def ace_form(host: str) -> str | None:
    """The ``xn--`` (ASCII) spelling of an international domain, None when IDNA refuses it: a
    company row migration 0032 could not convert (its Unicode form was another company's
    already) still carries it."""
    try:
        return validate_email("a@" + host.lower(), check_deliverability=False).ascii_domain.lower()
    except EmailNotValidError:
        return None


def normalize_email(value: str | None) -> str | None:
    """Lower-case, validated (email-validator, no DNS) address; None for empty or the placeholder.

    Raises NotNormalisable when the address is not a valid email address.
    """
    if value is None:
        return None
    email = value.strip().lower()
    if not email or email in PLACEHOLDER_EMAILS:
        return None
    local, at, domain = email.rpartition("@")
    if at and len(email) <= 254 and len(local) <= 64 and _SIMPLE_LOCAL.fullmatch(local):
        return local + "@" + _domain_ok(domain)
    try:
        return validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as e:
        raise NotNormalisable(str(e)) from None


# Mailboxes of a function, not a person: many people of one company are listed under them, so
# they identify nobody (two people sharing info@ are not one lead)
ROLE_LOCAL_PARTS = frozenset(
    {
        "accounts", "admin", "billing", "careers", "contact", "contactus", "enquiries", "enquiry", "hello",
        "help", "hi", "hr", "info", "inquiries", "inquiry", "jobs", "mail", "marketing", "media", "news",
        "noreply", "no-reply", "office", "press", "reception", "sales", "service", "support", "team",
        "webmaster",
    }
)  # fmt: skip


def is_role_address(email: str) -> bool:
    """A normalised address whose mailbox is a function's (info@, sales@...), not a person's."""
    local = email.partition("@")[0].split("+", 1)[0]
    return local in ROLE_LOCAL_PARTS


def technology_uid(term: str) -> str:
    """Apollo's uid form of a technology name: lower case, spaces and dots as underscores."""
    return "_".join(term.strip().lower().replace(".", " ").split())


def normalize_linkedin_url(value: str | None) -> str | None:
    """Canonical person profile URL ``https://www.linkedin.com/in/<slug>`` (slug lower-case, in
    Unicode's composed form, NFC: ``jérôme`` whether its accents come composed or decomposed, as
    macOS and some exports write them, or percent-encoded).

    Accepts http/https, with or without www or a country subdomain (uk.linkedin.com), trailing
    slashes, query strings and fragments, and a bare ``linkedin.com/in/...`` without scheme.
    Raises NotNormalisable for anything that is not a LinkedIn person profile.
    """
    if value is None:
        return None
    raw = value.strip()
    if not raw:
        return None
    if "://" not in raw:
        raw = "https://" + raw
    try:
        parts = urlsplit(raw)
    except ValueError:
        raise NotNormalisable(f"not a URL: {value!r}") from None
    host = (parts.hostname or "").lower()
    if host != "linkedin.com" and not host.endswith(".linkedin.com"):
        raise NotNormalisable(f"not a LinkedIn URL: {value!r}")
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) < 2 or segments[0].lower() != "in":
        raise NotNormalisable(f"not a LinkedIn profile URL (/in/<slug>): {value!r}")
    slug = unicodedata.normalize("NFC", unquote(segments[1]).strip().lower())
    if not slug or "/" in slug or _SPACE.search(slug):
        raise NotNormalisable(f"not a LinkedIn profile URL (/in/<slug>): {value!r}")
    return "https://www.linkedin.com/in/" + slug


def normalize_phone(value: str | None, region: str | None = None) -> str | None:
    """E.164 form of a phone number, parsed with ``region`` (ISO 3166 alpha-2) for national formats.

    Returns None for empty input; raises NotNormalisable for numbers phonenumbers rejects.
    The Excel text-forcing quote (``'+1 303...``) seen in CSV exports is ignored, and so is an
    extension (E.164 has none): ``parse_phone`` says whether there was one.
    """
    parsed = parse_phone(value, region)
    return parsed[0] if parsed else None


@lru_cache(maxsize=8192)
def parse_phone(value: str | None, region: str | None = None) -> tuple[str, str] | None:
    """(E.164, the extension or "") or None for empty input; see normalize_phone."""
    if value is None:
        return None
    raw = value.strip().lstrip("'").strip()
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as e:
        if e.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            # phonenumbers says "(0) Missing or invalid default region."
            why = "an unknown country code" if raw.startswith("+") else "no country code"
            raise NotNormalisable(
                f"phone {value!r}: {why}; write it in E.164, with + and the country code (+14155550123)"
            ) from None
        said = re.sub(r"^[(]\d+[)] ", "", str(e))  # "(1) The string supplied did not seem..."
        raise NotNormalisable(f"phone {value!r}: {said}") from None
    if not phonenumbers.is_valid_number(number):
        raise NotNormalisable(f"phone {value!r} is not a valid number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), number.extension or ""


@lru_cache(maxsize=8192)
def normalize_domain(value: str | None) -> str | None:
    """Company domain: lower-case host without scheme, ``www.``, port, path or trailing dot; an
    international name in its Unicode form (``idn_form``), whether given so or as ``xn--``."""
    if value is None:
        return None
    raw = value.strip().lower()
    if not raw:
        return None
    if "://" not in raw:
        raw = "http://" + raw
    try:
        host = urlsplit(raw).hostname or ""
    except ValueError:
        raise NotNormalisable(f"not a domain or URL: {value!r}") from None
    host = host.rstrip(".")
    if host and is_international(host):
        # the form email domains and domain blocks are stored in: a company stored as xn--
        # would be one company per spelling, and no block of its name would cover it
        try:
            host = idn_form(host)
        except NotNormalisable:
            raise NotNormalisable(
                f"not a domain or URL: {value!r} (not a valid international name)"
            ) from None
    host = host.removeprefix("www.")
    if "." not in host or _SPACE.search(host):
        raise NotNormalisable(f"not a domain or URL: {value!r}")
    return host


# Services whose pages are many businesses' "website" (facebook.com/joesplumbing,
# sites.google.com/view/annsbakery, linktr.ee/x, a short link): the host names the service, not the
# company, so two businesses listing pages there must not become one company by domain.
PAGE_HOSTS = frozenset(
    {
        "facebook.com", "fb.com", "fb.me", "m.facebook.com", "business.facebook.com", "instagram.com",
        "linkedin.com", "twitter.com", "x.com", "youtube.com", "youtu.be", "tiktok.com", "pinterest.com",
        "yelp.com", "sites.google.com", "business.google.com", "google.com", "g.page", "goo.gl",
        "maps.app.goo.gl", "linktr.ee", "beacons.ai", "bio.link", "carrd.co", "about.me", "wa.me",
        "t.me", "m.me", "etsy.com", "amazon.com", "ebay.com", "bit.ly", "tinyurl.com", "ow.ly",
        "medium.com", "substack.com", "github.com", "gitlab.com", "angel.co", "wellfound.com",
        "crunchbase.com", "bbb.org", "yellowpages.com", "tripadvisor.com", "houzz.com", "angi.com",
        "thumbtack.com", "nextdoor.com", "square.site", "business.site", "godaddysites.com",
    }
)  # fmt: skip


def _service_of(domain: str) -> str | None:
    """The shared service a host belongs to (web.facebook.com, uk.linkedin.com: their own
    subdomains too), or None."""
    labels = domain.split(".")
    suffixes = (".".join(labels[i:]) for i in range(len(labels) - 2, -1, -1))  # shortest first
    return next((d for d in suffixes if d in PAGE_HOSTS), None)


def _page_on_a_shared_host(value: str, domain: str) -> bool:
    if _service_of(domain) is None:
        return False
    raw = value.strip()
    parts = urlsplit(raw if "://" in raw else "http://" + raw)
    # a page is named by its path, or by a fragment (facebook.com/#!/pages/...)
    return parts.path.strip("/") != "" or parts.fragment.strip("/!") != "" or parts.query != ""


def company_domain(primary_domain: str | None, website_url: str | None) -> str | None:
    """The company's domain from ``primary_domain``, else from ``website_url``; None if neither works.

    A website that is a page on a shared service (``PAGE_HOSTS``: a Facebook page, a link-in-bio)
    gives no domain, nor does a ``primary_domain`` naming that service's host: the service's own
    site (``https://facebook.com``, no page) still does.
    """
    page_host = None
    if website_url:
        try:
            site = normalize_domain(website_url)
        except NotNormalisable:
            site = None
        if site is not None and _page_on_a_shared_host(website_url, site):
            page_host = site
    for candidate in (primary_domain, website_url):
        if candidate:
            try:
                domain = normalize_domain(candidate)
            except NotNormalisable:
                continue
            # the service itself is no domain beside a page on it (facebook.com and web.facebook.com/joes)
            if domain and (page_host is None or _service_of(domain) != _service_of(page_host)):
                return domain
    return None
