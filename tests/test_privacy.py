"""IP masking (analysis.publish.privacy): what a public build may show."""

from __future__ import annotations

import polars as pl

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
    text, frame, value = privacy.for_mode("internal")
    assert text("1.2.3.4") == "1.2.3.4"
    text, frame, value = privacy.for_mode("public")
    assert text("1.2.3.4") == "1.2.3.x"
    assert privacy.is_public("anything-else")
