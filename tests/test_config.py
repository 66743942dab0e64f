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
    assert config.q4.bollinger_k == Config().q4.bollinger_k
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
    with pytest.raises(ConfigError, match="nope.toml"):
        load_config(environ={"CURRICULUM_CONFIG": str(tmp_path / "nope.toml")})
