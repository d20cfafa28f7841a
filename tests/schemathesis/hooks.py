"""Cross-field rules the OpenAPI document cannot state (JSON Schema has no way to say "a cursor
this server issued", "`from` at most 366 days before `to`" or "an id that exists"), applied to
the *positive* cases only: schemathesis then checks that every request the document calls valid
AND that obeys these rules is accepted. Negative cases are sent untouched."""

import base64
import datetime
import os

import schemathesis
from schemathesis.core.parameters import ParameterLocation
from schemathesis.transport.serialization import Binary

# A 1×1 PNG.
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)

# A category that exists (the run script reads one from the seeded demo catalog).
KNOWN_CATEGORY = os.environ.get("ST_KNOWN_CATEGORY_ID")


def _positive(case):
    meta = case.meta
    return meta is not None and meta.generation.mode.is_positive


def _int(raw):
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def _day(raw):
    try:
        return datetime.date.fromisoformat(str(raw))
    except ValueError:
        return None


def _instant(raw):
    try:
        return datetime.datetime.fromisoformat(str(raw))
    except ValueError:
        return None


def _coupon(body):
    """A coupon's rules that join fields."""
    # A percentage is 1..=10000 basis points; the document's range is the fixed amount's.
    amount = _int(body.get("amount"))
    if body.get("kind") == "percentage" and amount is not None and amount > 10000:
        body["amount"] = 1 + (amount - 1) % 10000
    # A fixed amount and a minimum subtotal are in the coupon's one currency.
    if body.get("currency") is None and (body.get("kind") == "fixed" or body.get("min_subtotal_minor") is not None):
        body["currency"] = "USD"
    # `ends_at` after `starts_at`.
    if body.get("starts_at") is not None and body.get("ends_at") is not None:
        starts, ends = _instant(body["starts_at"]), _instant(body["ends_at"])
        try:
            ordered = starts is not None and ends is not None and ends > starts
        except TypeError:  # one without a zone
            ordered = False
        if not ordered:
            body.pop("ends_at")
    # Named products must exist (no known product id: drop them); categories as below.
    if body.get("product_ids"):
        body["product_ids"] = []


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if not _positive(case):
        return
    query = case.query if isinstance(case.query, dict) else None
    if query is not None:
        # Cursors are opaque tokens from an earlier page; made-up ones are refused (422).
        query.pop("cursor", None)
        # Search needs a letter or digit (of any script: no portable regex says that).
        if "q" in query and not any(c.isalnum() for c in str(query["q"])):
            query["q"] = "mug"
        # `min_price` must not exceed `max_price`.
        low, high = _int(query.get("min_price")), _int(query.get("max_price"))
        if low is not None and high is not None and low > high:
            query["min_price"], query["max_price"] = high, low
        # Analytics: `from` ≤ `to`, at most 366 days apart (defaults: `to` today, `from` 29 days
        # before `to`).
        if "from" in query or "to" in query:
            today = datetime.datetime.now(datetime.timezone.utc).date()
            to = _day(query["to"]) if "to" in query else today
            start = _day(query["from"]) if "from" in query else (to - datetime.timedelta(days=29) if to else None)
            if to and start and not (start <= to and (to - start).days <= 366):
                query.pop("from", None)
                query.pop("to", None)
    body = case.body if isinstance(case.body, dict) else None
    # The document can only call a picture "binary"; the server decodes it. Positive cases send a
    # real one (made-up bytes are refused with 415, which negative cases cover).
    if body is not None and case.method.upper() == "POST" and case.path.endswith("/images"):
        # A new dict: cases may share the generated one. schemathesis (4.32) re-validates an edited
        # body and counts any body holding binary data as invalid (`contains_binary`), which would
        # turn this positive case negative and its 201 into a "schema-violating request accepted";
        # the edit keeps the body valid (a binary `image`), so it is marked as checked (through
        # `_meta`: reading `case.meta` would re-validate first).
        # Other form fields go too: the server skips them, but a field's name travels in a MIME
        # header, where the non-ASCII names generated make the form unreadable (400).
        body = {"image": Binary(TINY_PNG)}
        case.body = body
        case._meta.clear_dirty(ParameterLocation.BODY)
    # Without `slug`, one is derived from `name`, which needs an ASCII letter or digit in it.
    creates = case.method.upper() == "POST" and case.path in ("/api/v1/admin/products", "/api/v1/admin/categories")
    if body is not None and creates and body.get("slug") is None:
        if not any(c.isascii() and c.isalnum() for c in str(body.get("name", ""))):
            body["slug"] = "derived-by-hand"
    if body is not None and case.path.startswith("/api/v1/admin/coupons"):
        _coupon(body)
    if body is not None and case.path.startswith("/api/v1/admin/shipping-methods"):
        # `free_above` needs `free_above_minor`, `by_weight` needs `per_kg_minor`.
        needed = {"free_above": "free_above_minor", "by_weight": "per_kg_minor"}.get(body.get("kind"))
        if needed and body.get(needed) is None:
            body[needed] = 100
    if body is not None and KNOWN_CATEGORY:
        # References must name a category that exists.
        for field in ("category_id", "parent_id"):
            if isinstance(body.get(field), str):
                body[field] = KNOWN_CATEGORY
        if body.get("category_ids"):
            body["category_ids"] = [KNOWN_CATEGORY]
