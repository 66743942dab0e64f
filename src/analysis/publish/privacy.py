"""IP masking for everything published (site, slide, email).

Students' IP addresses are personal data and the site is public. Public builds (the default,
`[privacy] mode`, `CURRICULUM_PRIVACY`, `--privacy`) keep only the network part: the /24 of an IPv4
address (`203.0.113.x`) and the /48 of an IPv6 address (`2001:db8:1::x`). That still shows "the campus
network" or "one provider's block" without identifying a household. Internal builds show full IPs.

Masking is applied at the last step, to what is about to be published: table cells, chart data and every
sentence (evidence texts carry IPs), so a question module cannot leak an address by forgetting to mask.
findings.json keeps full IPs (it is written to _build/ for the security team, never to _site/).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import polars as pl

# An IPv4 address not glued to other digits/dots (so "1.2.3.4.5" version strings are left alone).
IPV4_RE = re.compile(
    r"(?<![\d.])((?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){2})\.(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])"
)
# Candidate IPv6 tokens (validated with ipaddress before masking).
IPV6_RE = re.compile(r"(?<![0-9A-Za-z:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![0-9A-Za-z:])")
# The same IPv4 rule for polars (Rust regex has no look-behind; the boundaries are captured instead).
_POLARS_IPV4 = r"(^|[^\d.])((?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){2})\.(?:25[0-5]|2[0-4]\d|1?\d?\d)([^\d.]|$)"
_POLARS_IPV6 = r"\b([0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}):[0-9A-Fa-f:]+"

MODES = ("public", "internal")


def is_public(mode: str) -> bool:
    """Anything but an explicit "internal" is treated as public (fail safe)."""
    return mode != "internal"


def mask_ip(ip: str | None) -> str | None:
    """One address -> its network: a.b.c.x (IPv4 /24) or the first three hextets + ::x (IPv6 /48).

    Values that are not an IP address are returned through mask_text (they may embed one)."""
    if ip is None:
        return None
    text = str(ip).strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return mask_text(text)
    if address.version == 4:
        return ".".join(text.split(".")[:3]) + ".x"
    network = ipaddress.ip_network(f"{address}/48", strict=False).network_address
    hextets = network.exploded.split(":")[:3]
    return ":".join(h.lstrip("0") or "0" for h in hextets) + "::x"


def _mask_v6_match(match: re.Match[str]) -> str:
    token = match.group(0)
    try:
        if ipaddress.ip_address(token).version == 6:
            return mask_ip(token) or token
    except ValueError:
        pass
    return token


def mask_text(text: str) -> str:
    """Mask every IPv4/IPv6 address inside free text (evidence sentences, titles, tooltips)."""
    if not text:
        return text
    masked = IPV4_RE.sub(lambda m: m.group(1) + ".x", text)
    if ":" in masked:
        masked = IPV6_RE.sub(_mask_v6_match, masked)
    return masked


def mask_value(value: Any) -> Any:
    """Recursively mask strings inside JSON-like values (a Vega-Lite spec, a findings dict)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {key: mask_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(item) for item in value]
    return value


def _mask_expr(expr: pl.Expr) -> pl.Expr:
    # Twice: a match consumes its boundary characters, so "a.b.c.d e.f.g.h" needs a second pass.
    return (
        expr.str.replace_all(_POLARS_IPV4, "${1}${2}.x${3}")
        .str.replace_all(_POLARS_IPV4, "${1}${2}.x${3}")
        .str.replace_all(_POLARS_IPV6, "${1}::x")
    )


def mask_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Mask addresses in every text column (and lists of text) of a table about to be published.

    All string columns, not only those named ip/ips: evidence sentences and joined "IPs" lists carry
    addresses too."""
    string_columns = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    list_columns = [
        name
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.List) and dtype.inner == pl.String
    ]
    if not string_columns and not list_columns:
        return frame
    return frame.with_columns(
        *[_mask_expr(pl.col(name)).alias(name) for name in string_columns],
        *[pl.col(name).list.eval(_mask_expr(pl.element())).alias(name) for name in list_columns],
    )


def for_mode(mode: str):
    """The (text, frame, value) maskers for a build mode; identity functions for internal builds."""
    if is_public(mode):
        return mask_text, mask_frame, mask_value
    return (lambda t: t), (lambda f: f), (lambda v: v)
