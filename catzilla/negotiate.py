"""Content-coding negotiation: which of the codings the server has fits a
request's Accept-Encoding (RFC 9110 §12.5.3). Used by the static files and the
compression middleware; internal, not exported from catzilla.

    accept_encoding("gzip;q=0.5, br", ["br", "gzip"])  -> "br"
    accept_encoding("gzip;q=0", ["gzip"])              -> None (send identity)
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

from catzilla._core.httpsyntax import parse_params, split_list

__all__ = ["accept_encoding"]

# Codings that name the same thing (RFC 9110 §8.4.1.3: x-gzip is gzip).
_ALIASES = {"x-gzip": "gzip", "x-compress": "compress"}


def _qvalue(text: str) -> Optional[float]:
    """The weight a `q=` value gives, or None when it is not a qvalue
    (RFC 9110 §12.4.2: "0" ["." 0*3DIGIT] / "1" ["." 0*3("0")])."""
    head, dot, frac = text.partition(".")
    if head not in ("0", "1") or len(frac) > 3:
        return None
    if frac and not (frac.isascii() and frac.isdigit()):
        return None
    if head == "1" and frac.strip("0"):
        return None                      # above 1
    return float(text)


def _parse(header: str) -> Dict[str, float]:
    """{coding: q} for every well-formed element (the first listing of a coding
    wins); malformed elements, and those with a malformed weight, are ignored."""
    weights: Dict[str, float] = {}
    for element in split_list(header):   # empty list elements are allowed (RFC 9110 §5.6.1)
        params = parse_params(element)
        if not params or params[0][1] is not None:
            continue                      # malformed, or "coding=value"
        coding = params[0][0]
        q: Optional[float] = 1.0
        for key, value in params[1:]:
            if key == "q":
                q = _qvalue(value) if value is not None else None
        if q is None:
            continue
        weights.setdefault(_ALIASES.get(coding, coding), q)
    return weights


def accept_encoding(header: Optional[str], available: Sequence[str]) -> Optional[str]:
    """The coding of `available` (lower-case names, the server's preference
    first) to use for a request whose Accept-Encoding is `header`, or None for
    identity (no coding).

    RFC 9110 §12.5.3: a coding listed with q > 0 is acceptable; `*` gives its
    weight to every coding not listed; the highest weight wins, ties go to the
    server's order. None when the header is absent or empty, when nothing
    available is acceptable, or when identity (listed, or through `*`) weighs
    more than the best coding; identity is never refused here (a server may
    always send it unless it is excluded, and then a 406 is the caller's choice).
    Malformed elements (a bad `q`) are ignored; names are case-insensitive.
    """
    if not header or not available:
        return None
    weights = _parse(header)
    if not weights:
        return None
    star = weights.get("*")
    best: Optional[str] = None
    best_q = 0.0
    for coding in available:
        key = _ALIASES.get(coding.lower(), coding.lower())
        q = weights.get(key, star)
        if q is not None and q > best_q:
            best, best_q = coding, q
    if best is None:
        return None
    identity = weights.get("identity", star)
    if identity is not None and identity > best_q:
        return None
    return best
