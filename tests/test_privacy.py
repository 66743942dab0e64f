"""IP masking (analysis.publish.privacy): what a public build may show."""

from __future__ import annotations

import dataclasses
import pickle
import stat
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from analysis.config import Config, load_config
from analysis.publish import privacy


def test_ipv4_keeps_its_slash_24() -> None:
    assert privacy.mask_ip("97.105.19.61") == "97.105.19.x"


def test_ipv6_keeps_its_slash_48() -> None:
    assert privacy.mask_ip("2001:db8:abcd:12::1") == "2001:db8:abcd::x"
    assert privacy.mask_ip("2001:db8::1") == "2001:db8:0::x"


def test_none_and_non_addresses() -> None:
    assert privacy.mask_ip(None) is None
    assert privacy.mask_ip("not an ip") == "not an ip"


def test_text_masks_every_address_but_not_versions_or_times() -> None:
    text = "from 97.105.19.61 and 10.0.0.1, v1.2.3.4.5 at 12:30:45 via 2001:db8:abcd:12::1."
    assert privacy.mask_text(text) == (
        "from 97.105.19.x and 10.0.0.x, v1.2.3.4.5 at 12:30:45 via 2001:db8:abcd::x."
    )


def test_frame_masks_all_text_and_list_columns() -> None:
    frame = pl.DataFrame(
        {
            "IP": ["97.105.19.61", "2001:db8:abcd:12::1", None],
            "views": [1, 2, 3],
            "Evidence": ["from 1.2.3.4 5.6.7.8 at night", "x", "y"],
            "ips": [["1.2.3.4", "5.6.7.8"], [], None],
        }
    )
    masked = privacy.mask_frame(frame)
    assert masked["IP"].to_list() == ["97.105.19.x", "2001:db8:abcd::x", None]
    assert masked["Evidence"][0] == "from 1.2.3.x 5.6.7.x at night"
    assert masked["ips"][0].to_list() == ["1.2.3.x", "5.6.7.x"]
    assert masked["views"].to_list() == [1, 2, 3]


def test_value_masks_nested_specs() -> None:
    spec = {"title": "IP 8.8.8.8", "datasets": {"d": [{"ip": "9.9.9.9", "n": 3}]}}
    assert privacy.mask_value(spec) == {
        "title": "IP 8.8.8.x",
        "datasets": {"d": [{"ip": "9.9.9.x", "n": 3}]},
    }


def test_modes() -> None:
    text, _, _ = privacy.for_mode("internal")
    assert text("1.2.3.4") == "1.2.3.4"
    text, _, _ = privacy.for_mode("public")
    assert text("1.2.3.4") == "1.2.3.x"
    assert privacy.is_public("anything-else")


# --- every address form, found in text and parsed (issue 11) ----------------------------------------------

FULL_FORMS = {
    # address as the data may spell it -> what a public build shows
    "2001:db8::7": "2001:db8:0::x",
    "fe80::1": "fe80:0:0::x",
    "fe80::1%eth0": "fe80:0:0::x",
    "2001:0db8:0000:0000:0000:0000:0000:0007": "2001:db8:0::x",
    "2001:DB8:ABCD:12::1": "2001:db8:abcd::x",
    "::1": "0:0:0::x",
    "::ffff:198.51.100.77": "::ffff:198.51.100.x",
    "::ffff:c633:644d": "::ffff:198.51.100.x",  # the same IPv4-mapped address in hex
    "64:ff9b::198.51.100.77": "64:ff9b:0::x",
    "2002:c633:644d::1": "2002:c633:6400::x",  # 6to4 embeds the IPv4 address: keep only its /24
    "198.51.100.77": "198.51.100.x",
    "010.001.002.003": "10.1.2.x",
}


def test_every_form_of_an_address_is_masked() -> None:
    for raw, masked in FULL_FORMS.items():
        assert privacy.mask_ip(raw) == masked, raw
        assert privacy.mask_text(f"seen from {raw} twice") == f"seen from {masked} twice", raw


def test_punctuation_ports_and_labels_do_not_hide_an_address() -> None:
    cases = {
        "The scraper came from 198.51.100.77.": "The scraper came from 198.51.100.x.",
        "The scraper came from 2001:db8::7.": "The scraper came from 2001:db8:0::x.",
        "ip:2001:db8::7, then [fe80::1]:443": "ip:2001:db8:0::x, then [fe80:0:0::x]:443",
        "(2001:db8::7)": "(2001:db8:0::x)",
        "at:10.0.0.1: and 10.0.0.2:8080": "at:10.0.0.x: and 10.0.0.x:8080",
        "2001:db8::7,fe80::1;198.51.100.77/32": "2001:db8:0::x,fe80:0:0::x;198.51.100.x/32",
    }
    for text, masked in cases.items():
        assert privacy.mask_text(text) == masked, text


def test_text_that_is_not_an_address_is_left_alone() -> None:
    """Only what ipaddress parses is masked (so a text such as "a::b", a valid address, is masked too)."""
    for text in (
        "at 12:30:45",
        "2019-04-02 03:00:05",
        "v1.2.3.4.5",
        "10:30",
        "ratio 1.5:1",
    ):
        assert privacy.mask_text(text) == text


def test_frame_masks_compressed_ipv6_per_distinct_value() -> None:
    """The issue's leak: the Q4 tables showed 2001:db8::7 and fe80::1 in full."""
    frame = pl.DataFrame(
        {
            "IP": ["2001:db8::7", "fe80::1", "2001:db8::7", "::ffff:198.51.100.77", None],
            "Evidence": ["from 2001:db8::7 at night", "x", "fe80::1%eth0.", "y", None],
            "cat": pl.Series(["fe80::1", "a", "a", "b", "b"], dtype=pl.Categorical),
            "ips": [["2001:db8::7", "198.51.100.77"], [], None, ["fe80::1"], ["x"]],
        }
    )
    masked = privacy.mask_frame(frame)
    assert masked["IP"].to_list() == [
        "2001:db8:0::x",
        "fe80:0:0::x",
        "2001:db8:0::x",
        "::ffff:198.51.100.x",
        None,
    ]
    assert masked["Evidence"].to_list() == [
        "from 2001:db8:0::x at night",
        "x",
        "fe80:0:0::x.",
        "y",
        None,
    ]
    assert masked["cat"].to_list() == ["fe80:0:0::x", "a", "a", "b", "b"]
    assert masked["ips"].to_list() == [
        ["2001:db8:0::x", "198.51.100.x"],
        [],
        None,
        ["fe80:0:0::x"],
        ["x"],
    ]


# --- whole results, secrets, the page cache -----------------------------------------------------------------


@dataclass(frozen=True)
class _Finding:
    text: str
    value: object


@dataclass(frozen=True)
class _Result:
    answer: str
    parameters: dict
    findings: list
    table: pl.DataFrame
    count: int = 3


def test_public_copy_masks_parameters_nested_findings_and_frames() -> None:
    result = _Result(
        answer="2001:db8::7 read 300 pages",
        parameters={"campus_ips": ["97.105.19.61", "2001:db8:1::5"], "top_n": 5},
        findings=[_Finding("campus share from 97.105.19.61", "fe80::1")],
        table=pl.DataFrame({"IP": ["2001:db8::7"], "n": [1]}),
    )
    public = privacy.public_copy(result)
    assert public.answer == "2001:db8:0::x read 300 pages"
    assert public.parameters == {"campus_ips": ["97.105.19.x", "2001:db8:1::x"], "top_n": 5}
    assert public.findings == [_Finding("campus share from 97.105.19.x", "fe80:0:0::x")]
    assert public.table["IP"].to_list() == ["2001:db8:0::x"] and public.count == 3
    assert result.answer.startswith("2001:db8::7")  # the original is untouched


def test_without_secrets_drops_the_database_url_everywhere() -> None:
    config = load_config(environ={"CURRICULUM_DB_URL": "mysql+pymysql://u:s3cret@db/x"})
    assert config.db_url
    assert privacy.without_secrets(config).db_url is None

    @dataclass(frozen=True)
    class _Report:
        config: Config
        answer: str = "a"

    assert privacy.without_secrets(_Report(config)).config.db_url is None


def test_page_cache_is_private_secret_free_and_masked(tmp_path: Path) -> None:
    from analysis.publish import pages

    config = load_config(environ={"CURRICULUM_DB_URL": "mysql+pymysql://u:s3cret-pw@db/x"})
    report = _Result(
        "from 2001:db8::7", {"ips": ["fe80::1"]}, [], pl.DataFrame({"ip": ["10.1.2.3"]})
    )
    target = tmp_path / "findings-cache"
    target.write_bytes(b"old")
    target.chmod(0o644)
    pages.write_cache(report, config, target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    raw = target.read_bytes()
    for secret in (b"s3cret-pw", b"2001:db8::7", b"fe80::1", b"10.1.2.3"):
        assert secret not in raw, secret
    data = pickle.loads(raw)
    assert data["config"].db_url is None
    assert data["report"].answer == "from 2001:db8:0::x"
    assert data["report"].parameters == {"ips": ["fe80:0:0::x"]}
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left

    internal = config.replace(privacy=dataclasses.replace(config.privacy, mode="internal"))
    pages.write_cache(report, internal, target)
    data = pickle.loads(target.read_bytes())
    assert data["report"].answer == "from 2001:db8::7" and data["config"].db_url is None
