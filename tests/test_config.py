"""The configuration file overrides defaults key by key; mistakes name the setting at fault."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from analysis.config import DEFAULT_CONFIG_FILE, Config, load_config
from analysis.errors import ConfigError


def test_project_file_loads_and_matches_documented_defaults() -> None:
    config = load_config(environ={})
    assert config.source_file == DEFAULT_CONFIG_FILE
    assert config.programs.labels[3] == "Data science"
    assert config.programs.track[1] == "web_dev"
    assert config.q5.policy_date == dt.date(2019, 6, 1)
    assert config.lessons.aliases["python/intro-to-python"] == "python/introduction-to-python"


def test_file_overrides_one_key_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[q4]\nheavy_day_min_views = 99\n[programs]\n3 = "DS"\n')
    config = load_config(path, environ={})
    assert config.q4.heavy_day_min_views == 99
    assert config.q4.heavy_own_z == Config().q4.heavy_own_z
    assert config.programs.labels[3] == "DS"
    assert config.programs.labels[2] == "Java web dev"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[q4]\nheavy_day_minviews = 3\n", "unknown setting 'heavy_day_minviews'"),
        ("[q4]\nheavy_day_min_views = 'many'\n", "q4.heavy_day_min_views: expected a whole number"),
        ("[q5]\npolicy_date = 'June'\n", "q5.policy_date: expected a date"),
        ("[q4\n", "invalid TOML"),
        ("[nonsense]\nx = 1\n", "unknown setting 'nonsense'"),
    ],
)
def test_mistakes_name_the_file_and_setting(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert fragment in str(error.value)
    assert str(path) in str(error.value)


def test_environment_is_read_in_one_place(tmp_path: Path) -> None:
    config = load_config(
        environ={
            "CURRICULUM_DB_URL": "mysql+pymysql://u:p@db:3306/curriculum_logs",
            "CURRICULUM_DATA_DIR": str(tmp_path),
            "CURRICULUM_SITE_URL": "https://example.test/report/",
            "CURRICULUM_PRIVACY": "internal",
        }
    )
    assert config.db_url.endswith("@db:3306/curriculum_logs")
    assert config.paths.snapshot_dir == tmp_path / "snapshot"
    assert config.site.base_url == "https://example.test/report/"
    assert config.privacy.mode == "internal"


def test_bad_privacy_mode_is_refused() -> None:
    with pytest.raises(ConfigError, match="CURRICULUM_PRIVACY"):
        load_config(environ={"CURRICULUM_PRIVACY": "everyone"})


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml"):
        load_config(environ={"CURRICULUM_CONFIG": str(tmp_path / "nope.toml")})


# --- types and ranges, checked once at load (issue 11, item 3) ----------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("q1 = 5\n", "q1: expected a table of settings, got 5"),
        ("programs = 5\n", "programs: expected a table of settings"),
        ("lessons = [1]\n", "lessons: expected a table of settings"),
        ("[q4]\nshared_ip_window_users = 0\n", "q4.shared_ip_window_users must be >= 2, got 0"),
        ("[q4]\nslow_min_pages = -3\n", "q4.slow_min_pages must be >= 3"),
        ("[q1]\ntop_k = -1\n", "q1.top_k must be >= 1, got -1"),
        ("[q5]\nbootstrap_reps = 0\n", "q5.bootstrap_reps must be >= 1, got 0"),
        ("[q2]\nconfidence = nan\n", "q2.confidence must be > 0 and < 1, got nan"),
        ("[q2]\nconfidence = 1.5\n", "q2.confidence must be > 0 and < 1"),
        ("[q4]\nheavy_own_z = inf\n", "q4.heavy_own_z must be > 0, got inf"),
        ("[q4]\nscrape_window_seconds = -60\n", "q4.scrape_window_seconds must be >= 1"),
        ("[q4]\nstale_years = -1\n", "q4.stale_years must be > 0"),
        ("[q3]\nbulk_quantile = 0.7\n", "q3.bulk_quantile must be >= 0 and < 0.5"),
        ("[acquire]\nread_timeout_seconds = 0\n", "acquire.read_timeout_seconds must be > 0"),
        ("[q4]\ncampus_ips = [1, 2]\n", "q4.campus_ips: expected a list of strings"),
        ("[site]\ntitle = 5\n", "site.title: expected a string"),
        ("[programs]\n1 = 5\n", "every value must be a string"),
        ("[programs]\ntrack = 5\n", "expected a table"),
    ],
)
def test_wrong_types_and_out_of_range_values_are_refused_at_load(
    tmp_path: Path, text: str, fragment: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert fragment in str(error.value)


def test_every_range_rule_names_a_real_setting_and_the_defaults_pass() -> None:
    import dataclasses

    from analysis.config import RANGES, validate

    config = Config()
    for key in RANGES:
        section, name = key.split(".")
        assert name in {f.name for f in dataclasses.fields(getattr(config, section))}, key
    validate(config)
    validate(load_config(environ={}))


def test_config_that_is_a_directory_or_not_utf8_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path, environ={})
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[site]\ntitle = "Caf\xe9"\n')
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        load_config(path, environ={})


def test_data_dir_naming_a_file_or_an_impossible_path_is_refused(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ConfigError, match=r"CURRICULUM_DATA_DIR: .* is not a directory"):
        load_config(environ={"CURRICULUM_DATA_DIR": str(a_file)})
    with pytest.raises(ConfigError, match="cannot be created"):
        load_config(environ={"CURRICULUM_DATA_DIR": str(a_file / "below" / "it")})


def test_data_dir_from_the_file_is_checked_too(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    path = tmp_path / "c.toml"
    path.write_text(f'[paths]\ndata_dir = "{a_file}"\n')
    with pytest.raises(ConfigError, match=r"paths\.data_dir: .* is not a directory"):
        load_config(path, environ={})


def test_data_dir_moves_the_snapshot_not_the_shipped_demo(tmp_path: Path) -> None:
    """`--data-dir DIR` / CURRICULUM_DATA_DIR: the snapshot goes to DIR, the embedded data stays put."""
    from analysis.config import PROJECT_ROOT

    config = load_config(environ={"CURRICULUM_DATA_DIR": str(tmp_path)})
    assert config.paths.snapshot_dir == tmp_path / "snapshot"
    assert config.paths.demo_dir == PROJECT_ROOT / "data" / "demo"
    assert (config.paths.demo_dir / "logs.txt.gz").exists()
    assert (config.paths.reference_dir / "cohorts.csv").exists()


@pytest.mark.slow
def test_analyze_demo_into_another_data_dir(tmp_path: Path) -> None:
    from analysis.cli import main

    code = main(
        ["analyze", "--demo", "-q", "--data-dir", str(tmp_path / "d"), "--out", str(tmp_path / "o")]
    )
    assert code == 0
    assert (tmp_path / "d" / "snapshot" / "manifest.json").exists()
    assert (tmp_path / "o" / "findings.json").exists()
    assert (tmp_path / "o" / "report-cache.pickle").exists()  # beside findings, not in the project


# --- each setting declared once (issue 15, item 1) -----------------------------------------------------


def test_shipped_config_file_is_the_one_generated_from_the_declarations() -> None:
    """curriculum-insights.toml is `make config-file`'s output: defaults, ranges and help never drift."""
    from analysis.config import default_toml

    assert DEFAULT_CONFIG_FILE.read_text(encoding="utf-8") == default_toml(), (
        "curriculum-insights.toml differs from the declarations in config.py: run `make config-file`"
    )


def test_every_setting_is_declared_with_a_label_and_help_and_a_valid_default() -> None:
    import dataclasses

    from analysis.config import SETTINGS, describe

    config = Config()
    sections = [
        f for f in dataclasses.fields(config) if dataclasses.is_dataclass(getattr(config, f.name))
    ]
    keys = {
        f"{s.name}.{item.name}"
        for s in sections
        for item in dataclasses.fields(getattr(config, s.name))
    }
    assert keys == set(SETTINGS)
    for key, declared in SETTINGS.items():
        section, name = key.split(".")
        assert declared.key == key and describe(key) is declared
        assert getattr(getattr(config, section), name) == declared.default, key
        assert declared.label and declared.label[0].isupper(), key
        assert declared.help and "\n" not in declared.help, key
        if declared.numeric:
            assert declared.allowed.admits(declared.default), key


def test_describe_reads_a_setting_by_key_or_by_name_within_a_section() -> None:
    from analysis.config import describe

    share = describe("q4.share_min_days")
    assert (share.unit, share.default, share.allowed.describe()) == ("days", 4, ">= 1")
    assert describe("min_views", "q7").key == "q7.min_views"
    assert describe("min_views", "q2").key == "q2.min_views"
    assert describe("lesson_home_min_share", "q2").key == "q5.lesson_home_min_share"
    assert describe("seed").identifier
    with pytest.raises(KeyError):
        describe("no_such_setting")


def test_a_range_declared_on_a_setting_is_what_load_checks(tmp_path: Path) -> None:
    from analysis.config import describe

    path = tmp_path / "c.toml"
    path.write_text("[q4]\nshare_min_days = 0\n")
    with pytest.raises(
        ConfigError,
        match=f"q4.share_min_days must be {describe('q4.share_min_days').allowed.describe()}",
    ):
        load_config(path, environ={})


def test_the_generated_file_loads_to_the_defaults_and_documents_every_setting() -> None:
    import tomllib

    from analysis.config import SETTINGS, default_toml

    text = default_toml()
    raw = tomllib.loads(text)
    for key, declared in SETTINGS.items():
        section, name = key.split(".")
        if not declared.in_file:
            assert f"#   {name}: " in text, key  # documented, not set
        elif declared.flatten:
            assert set(map(str, declared.default)) <= set(raw[section]), key
        else:
            assert name in raw[section], key
    assert "[q4]" in text and "share_min_days = 4" in text
    assert "# days with two IPs at the same time needed for a shared account [days, >= 1]" in text


# --- settings checked beyond their type (issue 18) --------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('[programs.track]\n1 = "webdev"\n', "programs.track.1 = 'webdev' is not a track"),
        ('[q5.lesson_home_overrides]\n"java-i" = "java"\n', "lesson_home_overrides"),
        ('[q4]\ncampus_ips = ["not an ip"]\n', "q4.campus_ips holds 'not an ip'"),
        ('[q4]\ncampus_ips = ["97.105.19.300"]\n', "not an IP address"),
        (
            '[site]\nemail_to = "boss@school.edu\\nBcc: all@evil.test"\n',
            "site.email_to must be one line",
        ),
        ('[site]\nemail_to = "boss@school.edu\\r"\n', "site.email_to must be one line"),
        ('[site]\nemail_from = "not an address"\n', "site.email_from: 'not an address' is not"),
        ('[site]\nemail_from = "a@b.org, c@d.org"\n', "site.email_from must be one address"),
        ('[site]\nemail_to = "boss@school"\n', "site.email_to"),
    ],
)
def test_bad_tracks_ips_and_addresses_are_exit_2_naming_the_setting(
    tmp_path: Path, capsys, content: str, fragment: str
) -> None:
    from analysis.cli import main

    path = tmp_path / "c.toml"
    path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert fragment in str(caught.value)
    code = main(["summary", "--config", str(path), "--data-dir", str(tmp_path / "d")])
    err = capsys.readouterr().err
    assert code == 2 and fragment in err and "Traceback" not in err


def test_good_addresses_and_ips_are_kept_ips_in_canonical_form(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[q4]\ncampus_ips = ["97.105.19.61", "2001:DB8::0:1"]\n'
        '[site]\nemail_from = "Data team <data@school.edu>"\n'
        'email_to = "Board <board@school.edu>, ceo@school.edu"\n'
        '[programs.track]\n5 = "data_science"\n'
    )
    config = load_config(path, environ={})
    assert config.q4.campus_ips == ("97.105.19.61", "2001:db8::1")
    assert config.site.email_to == "Board <board@school.edu>, ceo@school.edu"
    assert config.programs.track[5] == "data_science"


def test_config_tracks_are_the_tracks_question_5_compares() -> None:
    from analysis.config import TRACKS
    from analysis.questions.q5 import TRACK_NAMES

    assert set(TRACKS) == set(TRACK_NAMES)
    assert set(Config().programs.track.values()) <= set(TRACKS)
