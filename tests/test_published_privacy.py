"""Nothing published holds a full IP address, a secret or a path of the build machine (issue 11, item 5).

A small log full of IPv4, IPv6 (compressed, link-local, exploded, upper case, IPv4-mapped, 6to4) and campus
addresses is imported with the real ingest, analysed and rendered as a public build whose configuration
carries a database URL with a password. Then every published file is read as text: _site/** (HTML, JSON,
CSS, the pptx unzipped), _build/email.html and _build/email.eml (every MIME part decoded), the report
history kept between runs (data/history/*.json.gz, decompressed), and searched
for every address in every textual form, after undoing HTML entities and Markdown backslashes. The same
log rendered as an internal build shows the addresses: the search is able to find them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import gzip
import html
import ipaddress
import random
import re
import zipfile
from email import policy
from pathlib import Path

import pytest
from render_support import LESSONS

from analysis.config import PROJECT_ROOT, Config, load_config

pytestmark = pytest.mark.render

PASSWORD = "pw-9f3Kq-never-published"
DB_URL = f"mysql+pymysql://reader:{PASSWORD}@db.internal.example:3306/curriculum_logs"
CAMPUS = ("97.105.19.61", "2001:db8:ca:1::10")  # configured campus NAT addresses (IPv4, IPv6)
SCRAPER_V6 = "2001:db8::7"  # compressed IPv6: the leak in the Q4 tables
LINK_LOCAL = "fe80::1"
MAPPED = "::ffff:203.0.113.9"  # IPv4-mapped
SIXTOFOUR = "2002:c633:644d::1"  # 6to4: embeds 198.51.100.77
HEAVY = "198.51.100.77"
NO_COHORT = "192.0.2.10"
# The same addresses as the log spells some of them (the parser must find them whatever the spelling).
SPELLED = {
    SCRAPER_V6: "2001:0DB8:0000:0000:0000:0000:0000:0007",
    "2001:db8:0:1::5": "2001:DB8:0:1::5",
}
COHORTS = {  # cohort id -> (start, end, program) from data/reference/cohorts.csv
    23: (dt.date(2018, 3, 5), dt.date(2018, 7, 19), 2),
    25: (dt.date(2018, 7, 23), dt.date(2018, 11, 29), 2),
    27: (dt.date(2018, 11, 5), dt.date(2019, 4, 3), 2),
    30: (dt.date(2019, 2, 4), dt.date(2019, 6, 16), 3),
    34: (dt.date(2019, 8, 19), dt.date(2020, 1, 30), 3),
}


def _line(moment: dt.datetime, path: str, user: int, cohort: int | None, ip: str) -> str:
    ip = SPELLED.get(ip, ip)
    return f"{moment:%Y-%m-%d %H:%M:%S} {path} {user} {'' if cohort is None else cohort} {ip}"


def write_log(path: Path, seed: int = 11) -> list[str]:
    """A ~9,000-line log; returns every distinct address in it (canonical form)."""
    rng = random.Random(seed)
    lines: list[str] = []
    user = 0
    for cohort, (start, end, program) in COHORTS.items():
        pool = LESSONS[7:] if program == 3 else LESSONS[:7]
        for _ in range(8):
            user += 1
            home = rng.choice(
                [
                    f"10.{cohort}.{user}.{rng.randint(2, 250)}",
                    f"2001:db8:{cohort:x}:{user:x}::{user:x}",
                ]
            )
            for k in range(150):
                day = start + dt.timedelta(days=rng.randrange((end - start).days + 90))
                moment = dt.datetime.combine(day, dt.time(rng.randint(8, 20), rng.randint(0, 59)))
                ip = CAMPUS[k % 2] if day <= end and rng.random() < 0.5 else home
                lines.append(_line(moment, rng.choice(pool), user, cohort, ip))
    # a scraper on a compressed IPv6 address, another on a link-local one: 90 pages in 90 seconds
    for k in range(90):
        night = dt.datetime(2019, 4, 2, 3, 0) + dt.timedelta(seconds=k)
        lines.append(_line(night, f"{LESSONS[k % 7]}/page-{k}", 3, 23, SCRAPER_V6))
        lines.append(
            _line(night + dt.timedelta(days=30), f"{LESSONS[k % 7]}/p{k}", 12, 25, LINK_LOCAL)
        )
    # one user on 40 addresses (two of them spelled in upper case / exploded in the file)
    for k in range(40):
        ip = "2001:db8:0:1::5" if k == 0 else f"2001:db8:0:{k + 1:x}::{k:x}"
        lines.append(
            _line(dt.datetime(2018, 9, 1, 12) + dt.timedelta(hours=k), LESSONS[1], 20, 25, ip)
        )
    # a heavy day from a 6to4 and an IPv4 address; a night burst from an IPv4-mapped address
    for k in range(400):
        moment = dt.datetime(2018, 10, 3, 9) + dt.timedelta(seconds=40 * k)
        lines.append(_line(moment, LESSONS[k % 7], 21, 25, SIXTOFOUR if k % 2 else HEAVY))
    for k in range(40):
        moment = dt.datetime(2019, 1, 15, 2) + dt.timedelta(minutes=k)
        lines.append(_line(moment, LESSONS[k % 7], 26, 27, MAPPED))
    # no-cohort users
    for k in range(200):
        moment = dt.datetime(2019, 2, 1, 12) + dt.timedelta(hours=k)
        lines.append(_line(moment, rng.choice(LESSONS), 900 + k % 3, None, NO_COHORT))
    lines.sort()
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sorted({str(ipaddress.ip_address(line.rsplit(" ", 1)[1])) for line in lines})


def forms(address: str) -> set[str]:
    """Every way a published file could spell the full address."""
    parsed = ipaddress.ip_address(address)
    spellings = {str(parsed), parsed.exploded}
    if parsed.version == 4:
        spellings |= {f"::ffff:{parsed}", f"::ffff:{int(parsed) >> 16:x}:{int(parsed) & 0xFFFF:x}"}
    else:
        if parsed.ipv4_mapped is not None:
            spellings.add(str(parsed.ipv4_mapped))
        if parsed.sixtofour is not None:
            spellings.add(str(parsed.sixtofour))
        # without "::" compression: 2001:db8:0:0:0:0:0:7
        spellings.add(":".join(h.lstrip("0") or "0" for h in parsed.exploded.split(":")))
    return spellings | {s.upper() for s in spellings}


def published_texts(config: Config) -> dict[str, str]:
    """path -> text of every published file (site, slide unzipped, email parts decoded)."""
    texts: dict[str, str] = {}
    site = config.paths.site_dir
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        name = str(path.relative_to(site))
        if path.suffix == ".pptx":
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    texts[f"{name}!{member}"] = archive.read(member).decode("utf-8", "replace")
        elif path.suffix != ".png":
            texts[name] = path.read_bytes().decode("utf-8", "replace")
    build = config.paths.build_dir
    texts["_build/email.html"] = (build / "email.html").read_text(encoding="utf-8")
    message = email.message_from_bytes((build / "email.eml").read_bytes(), policy=policy.default)
    texts["_build/email.eml!headers"] = "\n".join(f"{k}: {v}" for k, v in message.items())
    for index, part in enumerate(message.walk()):
        payload = part.get_payload(decode=True)
        if not payload:
            continue
        if part.get_content_type() == PPTX:
            with zipfile.ZipFile(__import__("io").BytesIO(payload)) as archive:
                for member in archive.namelist():
                    texts[f"email.eml!{index}!{member}"] = archive.read(member).decode(
                        "utf-8", "replace"
                    )
        elif part.get_content_maintype() == "text":
            texts[f"email.eml!{index}"] = payload.decode("utf-8", "replace")
    # the report history (issue 19) leaves the machine too: the workflow keeps it between runs
    history = config.paths.data_dir / "history"
    for path in sorted(history.glob("*.json.gz")):
        texts[f"history/{path.name}"] = gzip.decompress(path.read_bytes()).decode("utf-8")
    return texts


PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def normalised(text: str) -> str:
    """Entities decoded, Markdown/JSON backslashes and soft line breaks removed."""
    text = html.unescape(html.unescape(text))
    text = re.sub(r"\\u00([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), text)
    return text.replace("\\", "")


def _build(root: Path, privacy: str) -> tuple[Config, list[str]]:
    from analysis.publish.render import render
    from analysis.sources.ingest import import_files

    base = load_config(environ={})
    config = base.replace(
        paths=dataclasses.replace(
            base.paths, data_dir=root / "data", site_dir=root / "_site", build_dir=root / "_build"
        ),
        privacy=dataclasses.replace(base.privacy, mode=privacy),
        q4=dataclasses.replace(base.q4, campus_ips=CAMPUS),
        db_url=DB_URL,  # as `build --db-url` or CURRICULUM_DB_URL leave it in the configuration
    )
    log = root / "in" / "access.log"
    log.parent.mkdir(parents=True)
    addresses = write_log(log)
    import_files(
        log,
        PROJECT_ROOT / "data" / "reference" / "cohorts.csv",
        config.paths.snapshot_dir,
        progress=False,
    )
    render(config, engine="pandoc", progress=False)  # computes the report itself, caches it
    return config, addresses


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, list[str]]:
    return _build(tmp_path_factory.mktemp("published-public"), "public")


@pytest.fixture(scope="module")
def internal(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, list[str]]:
    return _build(tmp_path_factory.mktemp("published-internal"), "internal")


def _leaks(texts: dict[str, str], addresses: list[str]) -> dict[str, set[str]]:
    """address -> the published files that spell it in full (any spelling)."""
    found: dict[str, set[str]] = {}
    for name, text in texts.items():
        flat = normalised(text)
        for address in addresses:
            for spelling in forms(address):
                # not glued to more address characters (10.1.2.3 is not in 10.1.2.30)
                if re.search(
                    rf"(?<![0-9A-Fa-f:.]){re.escape(spelling)}(?![0-9A-Fa-f:]|\.\d)", flat
                ):
                    found.setdefault(address, set()).add(name)
    return found


def test_the_log_reaches_the_published_pages(internal) -> None:
    """Control: an internal build publishes the addresses, so the search below can find a leak."""
    config, addresses = internal
    shown = _leaks(published_texts(config), addresses)
    for address in (SCRAPER_V6, LINK_LOCAL, NO_COHORT, *CAMPUS):
        assert address in shown, f"{address} is in no internal page: the log no longer exercises it"
    assert any(name.startswith("questions/q4") for name in shown[SCRAPER_V6])
    assert any(name.startswith("questions/q8") for name in shown[CAMPUS[1]])


def test_no_full_address_in_any_published_file(public) -> None:
    config, addresses = public
    texts = published_texts(config)
    assert "questions/q4.html" in texts and "slide.pptx!ppt/slides/slide1.xml" in texts
    assert any(name.startswith("history/") for name in texts)  # the build kept its report
    assert _leaks(texts, addresses) == {}


def test_the_masked_networks_are_shown(public) -> None:
    config, _ = public
    q4 = normalised((config.paths.site_dir / "questions" / "q4.html").read_text(encoding="utf-8"))
    assert "2001:db8:0::x" in q4  # the scraper's network, not its address


def test_no_secret_in_any_output_or_cache(public) -> None:
    config, _ = public
    for folder in (config.paths.build_dir, config.paths.site_dir):
        for path in (p for p in folder.rglob("*") if p.is_file()):
            assert PASSWORD.encode() not in path.read_bytes(), path
    cache = config.paths.build_dir / "findings-cache"
    assert cache.exists() and cache.stat().st_mode & 0o077 == 0, "the page cache must be private"


def test_no_path_of_the_build_machine_is_published(public) -> None:
    config, _ = public
    root = config.paths.site_dir.parent
    machine_paths = {str(PROJECT_ROOT), str(root), str(Path.home()), "/tmp/"}
    for name, text in published_texts(config).items():
        flat = normalised(text)
        for machine_path in machine_paths:
            assert machine_path not in flat, f"{name} publishes {machine_path}"
