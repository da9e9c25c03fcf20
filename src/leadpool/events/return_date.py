"""Reading the return date out of an out-of-office reply.

Formats understood: ISO (2025-01-15), numeric with a year (15.01.2025, 15/01/2025, 01/15/2025),
numeric without a year (15.1., 15/1), a bare day of the month ("back on the 16th": this month
while still ahead, else next month), month names in English, German, French and Spanish
("January 15th", "15 January", "15. Januar", "15 janvier", "15 de enero"), weekdays ("back on
Monday"; after an explicit date, "off until Thu 18/9, back Friday" is the first Friday on or after
it) and "tomorrow"/"next week" (and their de/fr/es forms).

Choices where the text is ambiguous: the order of slashed dates is decided once per message. When
one of them can only be day/month (17/3) and none can only be month/day (3/17), all are read
day/month ("from 10/3 to 17/3" is the 10th to the 17th of March), and the other way round; when
none settles it (or they disagree), one with both parts <= 12 is read month/day in English text
and day/month otherwise. Dots are always day.month. A date without a year is this
year's, last year's or next year's: the first of them no more than 60 days before the reply
arrived. A dotted pair that is a time of day ("at 9.30", "8.30 Uhr") is not a date. When several dates appear, the latest one
after the arrival day wins, since out-of-office replies name the end of the absence last or
alone. Dates before the arrival day are ignored.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

_MONTHS: dict[str, int] = {}
for _n, _names in enumerate(
    [
        "january jan januar janv janvier enero ene jänner",
        "february feb februar fev fevr février fevrier febrero",
        "march mar märz maerz marz mars marzo",
        "april apr avril abril abr avr",
        "may mai mayo",
        "june jun juni juin junio",
        "july jul juli juillet juil julio",
        "august aug août aout agosto ago",
        "september sep sept septembre septiembre setiembre",
        "october oct oktober okt octobre octubre",
        "november nov novembre noviembre",
        "december dec dez dezember décembre decembre diciembre dic déc",
    ],
    start=1,
):
    for _name in _names.split():
        _MONTHS[_name] = _n

_WEEKDAYS: dict[str, int] = {}
for _n, _names in enumerate(
    [
        "monday mon montag lundi lunes",
        "tuesday tue tues dienstag mardi martes",
        "wednesday wed mittwoch mercredi miércoles miercoles",
        "thursday thu thurs donnerstag jeudi jueves",
        "friday fri freitag vendredi viernes",
        "saturday sat samstag samedi sábado sabado",
        "sunday sun sonntag dimanche domingo",
    ]
):
    for _name in _names.split():
        _WEEKDAYS[_name] = _n

_MONTH_RE = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))
_WEEKDAY_RE = "|".join(sorted((re.escape(d) for d in _WEEKDAYS), key=len, reverse=True))

_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
# not part of a longer run of numbers (an IP address, a version): no digit follows, straight or after
# dots and slashes ([/.]*\d, not [\d/.]*\d, which rescanned the whole run at every match: a long
# "1/1/1/..." took seconds)
_NUMERIC = re.compile(r"\b(\d{1,2})([./])(\d{1,2})(?:\2(\d{2,4}))?\.?(?![/.]*\d)")
_DAY_MONTH = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th|er|\.|º)?\s+(?:of\s+|de\s+)?({_MONTH_RE})\.?(?:,?\s+(?:de\s+)?(\d{{4}}))?\b",
    re.IGNORECASE,
)
_MONTH_DAY = re.compile(
    rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?", re.IGNORECASE
)
_WEEKDAY = re.compile(
    rf"\b(?:back|return(?:ing)?|until|till|through|on|ab|bis|am|jusqu'au|jusqu'à|le|hasta el|el|retour)\s+"
    rf"(?:next\s+|this\s+|nächsten\s+|prochain\s+)?({_WEEKDAY_RE})\b",
    re.IGNORECASE,
)
# "back Friday" after an explicit date ("off until Thu 18/9, back Friday"): the first such weekday
# on or after that date, not after the arrival day.
_BACK_WEEKDAY = re.compile(
    rf"\b(?:back|return(?:ing)?|retour|zur[üu]ck|wieder da)\s+(?:on\s+|am\s+|le\s+)?({_WEEKDAY_RE})\b",
    re.IGNORECASE,
)
# "back on the 16th": a day of the month without a month (this month if still ahead, else next).
_DAY_ONLY = re.compile(
    r"\b(?:back|return(?:ing)?|until|till|through|on|by)\s+(?:on\s+)?the\s+(\d{1,2})(?:st|nd|rd|th)\b(?!\s+of\b)",
    re.IGNORECASE,
)
_TOMORROW = re.compile(r"\b(?:tomorrow|morgen|demain|mañana|manana)\b", re.IGNORECASE)
_NEXT_WEEK = re.compile(
    r"\b(?:next week|nächste[rn]? woche|naechste woche|la semaine prochaine|la próxima semana|"
    r"la proxima semana)\b",
    re.IGNORECASE,
)
_ENGLISH = re.compile(r"\b(?:the|and|until|back|office|will|return)\b", re.IGNORECASE)


_RECENT_PAST_DAYS = 60


def _safe(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _next_occurrence(month: int, day: int, received: date) -> date | None:
    """The first reading (last year's, this year's, next year's) no more than 60 days before the
    reply: "Jan 2" read on Jan 10 is the start of an absence already under way, "Jan 6" read on
    Dec 20 is next January, and "Dec 22" read on Jan 2 is the December just past."""
    cutoff = received - timedelta(days=_RECENT_PAST_DAYS)
    for year in (received.year - 1, received.year, received.year + 1):
        d = _safe(year, month, day)
        if d is not None and d >= cutoff:
            return d
    return None


# "at"/"um"/"à" come before a time; "bis", "ab", "von", "from" name dates as often as times
_BEFORE_TIME = re.compile(r"(?:\bat|\bum|\bà|\ba las|@)\s*$", re.IGNORECASE)
_AFTER_TIME = re.compile(r"^\s*(?:uhr|h\b|hrs?\b|am\b|pm\b|o'clock)", re.IGNORECASE)


def _is_clock_time(text: str, start: int, end: int) -> bool:
    """A dotted pair read as a time of day by its neighbours ("at 9.10", "9.10 Uhr")."""
    return bool(
        _BEFORE_TIME.search(text[max(0, start - 12) : start]) or _AFTER_TIME.match(text[end : end + 10])
    )


def _year(y: str | None) -> int | None:
    if not y:
        return None
    n = int(y)
    return n + 2000 if n < 100 else n


def _candidates(text: str, received: date) -> list[date]:
    found: list[date] = []
    english = bool(_ENGLISH.search(text))
    consumed = text
    for m in _ISO.finditer(text):
        d = _safe(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if d:
            found.append(d)
        consumed = consumed.replace(m.group(0), " ")
    numeric = list(_NUMERIC.finditer(consumed))
    # one order for every slashed date in the message, when one of them settles it
    slashed = [(int(m.group(1)), int(m.group(3))) for m in numeric if m.group(2) == "/"]
    day_first = any(b <= 12 < a for a, b in slashed)
    month_first = any(a <= 12 < b for a, b in slashed)
    for m in numeric:
        a, sep, b, y = int(m.group(1)), m.group(2), int(m.group(3)), _year(m.group(4))
        if sep == "." and y is None and (b > 12 or _is_clock_time(consumed, m.start(), m.end())):
            continue  # "back at 9.30", "ab 8.30 Uhr": a time of day, not a date
        if sep == "/" and day_first != month_first:
            day, month = (a, b) if day_first else (b, a)
        elif sep == "/" and english and b <= 12 < a:
            day, month = a, b
        elif sep == "/" and english:
            month, day = a, b
        else:
            day, month = a, b
        if month > 12 and day <= 12:
            day, month = month, day
        d = _safe(y, month, day) if y else _next_occurrence(month, day, received)
        if d:
            found.append(d)
    for m in _DAY_MONTH.finditer(text):
        y = _year(m.group(3))
        month = _MONTHS[m.group(2).lower()]
        d = _safe(y, month, int(m.group(1))) if y else _next_occurrence(month, int(m.group(1)), received)
        if d:
            found.append(d)
    for m in _MONTH_DAY.finditer(text):
        y = _year(m.group(3))
        month = _MONTHS[m.group(1).lower()]
        d = _safe(y, month, int(m.group(2))) if y else _next_occurrence(month, int(m.group(2)), received)
        if d:
            found.append(d)
    if found:
        later = [d for d in found if d > received]
        anchor = max(later) if later else received
        for m in _BACK_WEEKDAY.finditer(text):
            target = _WEEKDAYS[m.group(1).lower()]
            d = anchor + timedelta(days=(target - anchor.weekday()) % 7)
            found.append(d if d > received else d + timedelta(days=7))
    if not found:
        for m in _DAY_ONLY.finditer(text):
            day = int(m.group(1))
            d = _safe(received.year, received.month, day) if day > received.day else None
            if d is None:
                nxt = date(received.year + received.month // 12, received.month % 12 + 1, 1)
                d = _safe(nxt.year, nxt.month, day)
            if d:
                found.append(d)
        for m in _WEEKDAY.finditer(text):
            target = _WEEKDAYS[m.group(1).lower()]
            ahead = (target - received.weekday()) % 7 or 7
            found.append(received + timedelta(days=ahead))
        if _TOMORROW.search(text):
            found.append(received + timedelta(days=1))
        if _NEXT_WEEK.search(text):
            found.append(received + timedelta(days=7 - received.weekday()))
    return found


_SCANNED = 5_000


def find_return_date(text: str, received: date) -> date | None:
    """The day the person is back, or None when the text names none after ``received``."""
    # a return date is stated near the top; the rest (a signature, a quoted thread) only costs time
    later = [d for d in _candidates(text[:_SCANNED], received) if d > received]
    return max(later) if later else None
