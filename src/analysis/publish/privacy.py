"""IP masking for everything published (site, slide, email), and the secrets kept out of it.

Students' IP addresses are personal data and the site is public. Public builds (the default,
`[privacy] mode`, `CURRICULUM_PRIVACY`, `--privacy`) keep only the network part: the /24 of an IPv4
address (`203.0.113.x`) and the /48 of an IPv6 address (`2001:db8:1::x`). That still shows "the campus
network" or "one provider's block" without identifying a household. Internal builds show full IPs.

Masking is by parsing, never by pattern alone: a regular expression only *finds* candidates in text
(dotted quads, and tokens of hex digits and colons, which covers every IPv6 form: full, compressed
`2001:db8::7`, `fe80::1`, with a zone `fe80::1%eth0`, IPv4-mapped `::ffff:198.51.100.7`); each candidate is
parsed and canonicalised by `ipaddress`, and only what parses is replaced, by the network computed from
the parsed address. Addresses that embed an IPv4 address keep no more of it than IPv4 masking does
(IPv4-mapped: `::ffff:a.b.c.x`; 6to4 `2002::/16`: its /40). Tables are masked per distinct value of each
text column, then joined back.

By construction, a public build's pages never see a full address: `public_copy` masks the whole report
(sentences, tables, parameters such as the campus IPs, nested findings) before it is handed to the page
kernels (analysis.publish.pages.write_cache), and the pages mask again whatever they display (tables,
chart specs, sentences). `without_secrets` drops the database URL from what is cached.
findings.json keeps full IPs (it is written to _build/ for the security team, never to _site/).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Callable
from typing import Any, TypeVar

import polars as pl

MODES = ("public", "internal")

T = TypeVar("T")

# Candidates only (ipaddress decides). IPv4: a dotted quad not glued to other digits or dots, so version
# strings such as 1.2.3.4.5 are left alone; a sentence's final period does not protect an address.
_IPV4_CANDIDATE = r"(?<!\d)(?<!\d\.)\d{1,3}(?:\.\d{1,3}){3}(?!\.?\d)"
# IPv6: a run of hex digits, colons and dots (an embedded IPv4 tail) holding at least two colons, with an
# optional %zone. The address is searched inside the run (see _mask_ipv6_run), so glued punctuation,
# a port or a label prefix ("ip:2001:db8::7", "fe80::1.") cannot hide it.
_IPV6_RUN = r"(?<![0-9A-Fa-f:.])(?=[0-9A-Fa-f.]*:[0-9A-Fa-f.]*:)[0-9A-Fa-f:.]+(?:%[0-9A-Za-z]+)?"
CANDIDATES = re.compile(f"(?P<v6>{_IPV6_RUN})|(?P<v4>{_IPV4_CANDIDATE})")
_IPV4_ONLY = re.compile(_IPV4_CANDIDATE)
_LONGEST_IPV6 = 45 + 16  # characters: the longest IPv6 text (IPv4 tail) plus a zone


def is_public(mode: str) -> bool:
    """Anything but an explicit "internal" is treated as public (fail safe)."""
    return mode != "internal"


# --- one address ----------------------------------------------------------------------------------------


def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address `text` spells (brackets, a zone and leading zeros in IPv4 octets allowed), else None."""
    token = text.strip()
    if token.startswith("[") and token.endswith("]"):
        token = token[1:-1]
    try:
        return ipaddress.ip_address(token)
    except ValueError:
        pass
    parts = token.split(".")
    if len(parts) == 4 and all(p.isdigit() and len(p) <= 3 for p in parts):
        octets = [int(p) for p in parts]  # 010.001.002.003: still an address, to be masked too
        if all(o <= 255 for o in octets):
            return ipaddress.IPv4Address(".".join(map(str, octets)))
    return None


def _hextets(address: ipaddress.IPv6Address, count: int) -> str:
    return ":".join(h.lstrip("0") or "0" for h in address.exploded.split(":")[:count])


def mask_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """A parsed address -> the masked text of its network."""
    if isinstance(address, ipaddress.IPv4Address):
        network = ipaddress.ip_network(f"{address}/24", strict=False).network_address
        return ".".join(str(network).split(".")[:3]) + ".x"
    if address.ipv4_mapped is not None:
        return "::ffff:" + mask_address(address.ipv4_mapped)
    if address.sixtofour is not None:  # 2002:WWXX:YYZZ::/48 holds the whole IPv4 address: keep /40
        network = ipaddress.IPv6Network(f"{address}/40", strict=False).network_address
        return _hextets(network, 3) + "::x"
    network = ipaddress.IPv6Network(f"{address}/48", strict=False).network_address
    return _hextets(network, 3) + "::x"


def mask_ip(ip: str | None) -> str | None:
    """One address -> its network: a.b.c.x (IPv4 /24) or the first three hextets + ::x (IPv6 /48).

    Values that are not an IP address are returned through mask_text (they may embed one)."""
    if ip is None:
        return None
    text = str(ip)
    address = parse_ip(text)
    return mask_address(address) if address is not None else mask_text(text)


# --- free text ------------------------------------------------------------------------------------------


def _mask_v4_in(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        address = parse_ip(match.group(0))
        return mask_address(address) if address is not None else match.group(0)

    return _IPV4_ONLY.sub(replace, text)


def _mask_ipv6_run(run: str) -> str:
    """Every IPv6 address inside a run of hex digits, colons and dots, masked (leftmost, longest first).

    Runs that hold none (times such as 12:30:45) are only searched for IPv4 addresses."""
    out: list[str] = []
    start = done = 0
    while start < len(run):
        found = None
        if run[start] != "." and run.count(":", start) >= 2:
            for end in range(min(len(run), start + _LONGEST_IPV6), start + 1, -1):
                piece = run[start:end]
                if piece.count(":") >= 2 and (address := parse_ip(piece)) is not None:
                    found = (end, address)
                    break
        if found is None:
            start += 1
            continue
        end, address = found
        out += [_mask_v4_in(run[done:start]), mask_address(address)]
        start = done = end
    out.append(_mask_v4_in(run[done:]))
    return "".join(out)


def _mask_candidate(match: re.Match[str]) -> str:
    if match.group("v4") is not None:
        return _mask_v4_in(match.group(0))
    return _mask_ipv6_run(match.group(0))


def mask_text(text: str) -> str:
    """Mask every IPv4/IPv6 address inside free text (evidence sentences, titles, tooltips)."""
    if not text or ("." not in text and ":" not in text):  # no address in it (the common case)
        return text
    return CANDIDATES.sub(_mask_candidate, text)


# --- tables, JSON-like values, whole results ------------------------------------------------------------


def _masked_values(series: pl.Series) -> tuple[list[str], list[str]]:
    """(old, new) for the distinct values of a text column that mask_text changes."""
    old: list[str] = []
    new: list[str] = []
    for value in series.drop_nulls().unique().to_list():
        masked = mask_text(value)
        if masked != value:
            old.append(value)
            new.append(masked)
    return old, new


def mask_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Mask addresses in every text column (and lists of text) of a table about to be published.

    All text columns, not only those named ip/ips: evidence sentences and joined "IPs" lists carry
    addresses too. Each distinct value is masked once (parsed, see mask_text) and joined back."""
    changes = []
    for name, dtype in frame.schema.items():
        if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
            column = pl.col(name).cast(pl.String)
            old, new = _masked_values(frame.get_column(name).cast(pl.String))
            changes.append(column.replace(old, new).alias(name) if old else column.alias(name))
        elif isinstance(dtype, pl.List) and dtype.inner in (pl.String, pl.Categorical):
            values = frame.get_column(name).cast(pl.List(pl.String)).explode()
            old, new = _masked_values(values)
            element = pl.element().replace(old, new) if old else pl.element()
            changes.append(pl.col(name).cast(pl.List(pl.String)).list.eval(element).alias(name))
    return frame.with_columns(changes) if changes else frame


_PLAIN = (int, float, bool, type(None))  # what mask_value returns as it is


def mask_value(value: Any) -> Any:
    """Recursively mask strings (keys too) inside JSON-like values (a Vega-Lite spec, parameters).

    Exact types are tested before isinstance (a findings document holds about 50,000 values and is
    masked once per render: history.public_findings)."""
    kind = type(value)
    if kind is str:
        return mask_text(value)
    if kind in _PLAIN:
        return value
    if isinstance(value, str):
        return mask_text(value)
    if kind is dict or isinstance(value, dict):
        return {mask_value(key): mask_value(item) for key, item in value.items()}
    if kind is list or isinstance(value, list | tuple):
        return [mask_value(item) for item in value]
    return value


def _deep(value: Any, text: Callable[[str], str]) -> Any:
    """value with `text` applied to every string in it: frames, dataclasses, containers, keys."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, pl.DataFrame):
        return mask_frame(value)
    if isinstance(value, pl.LazyFrame):
        return mask_frame(value.collect()).lazy()
    if isinstance(value, pl.Series):
        return mask_frame(value.to_frame()).to_series()
    if isinstance(value, dict):
        return type(value)((_deep(k, text), _deep(v, text)) for k, v in value.items())
    if isinstance(value, list):
        return [_deep(item, text) for item in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_deep(item, text) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: _deep(getattr(value, f.name), text) for f in dataclasses.fields(value) if f.init
        }
        return dataclasses.replace(value, **changes)
    return value


def public_copy(value: T) -> T:
    """A copy of a report (or result, or any dataclass / container) with every address masked."""
    return _deep(value, mask_text)


# --- secrets --------------------------------------------------------------------------------------------


def without_secrets(value: T) -> T:
    """A copy with no database URL anywhere (Config.db_url, also inside a Report's config)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            if not f.init:
                continue
            current = getattr(value, f.name)
            if f.name == "db_url" and current is not None:
                changes[f.name] = None
            elif dataclasses.is_dataclass(current) and not isinstance(current, type):
                cleaned = without_secrets(current)
                if cleaned is not current:
                    changes[f.name] = cleaned
        return dataclasses.replace(value, **changes) if changes else value
    return value


def for_mode(
    mode: str,
) -> tuple[Callable[[str], str], Callable[[pl.DataFrame], pl.DataFrame], Callable[[Any], Any]]:
    """The (text, frame, value) maskers for a build mode; identity functions for internal builds."""
    if is_public(mode):
        return mask_text, mask_frame, mask_value
    return (lambda t: t), (lambda f: f), (lambda v: v)


# An absolute path of the build machine (POSIX or Windows), shown as its file name only.
_ABSOLUTE_PATH = re.compile(
    r"(?<![\w.:/])(?:/[^\s/,;]+)+/([^\s/,;]+)|[A-Za-z]:\\(?:[^\s\\,;]+\\)*([^\s\\,;]+)"
)


def strip_paths(text: Any) -> str:
    """Absolute paths of the build machine -> their file names (what the Methods page may show)."""
    return _ABSOLUTE_PATH.sub(lambda m: m.group(1) or m.group(2), str(text))
