"""Lessons, people and time: the definitions every question relies on, on rows with known answers."""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import pytest

from analysis.config import Config, load_config
from analysis.errors import ConfigError
from analysis.prepare import (
    LESSON_HOMES_SCHEMA,
    TITLE_WORDS,
    campus_ips,
    enrollments,
    keep_own_track,
    lesson_home_table,
    lesson_homes,
    lesson_title,
    lesson_track_counts,
    page_kind,
    prepare,
    student_lesson_views,
    track_lesson_views,
    tracked_cohorts,
    user_addresses,
)
from analysis.sources.snapshot import Snapshot


def _views(paths: list[str | None], cohorts: pl.DataFrame, config: Config) -> pl.DataFrame:
    logs = pl.DataFrame(
        {
            "timestamp": [dt.datetime(2019, 3, 1, 9)] * len(paths),
            "path": paths,
            "user_id": list(range(len(paths))),
            "cohort_id": [30] * len(paths),
            "ip": ["203.0.113.9"] * len(paths),
        }
    )
    # the views carry no row order (prepare's joins do not keep it): back in log order by user
    return prepare(Snapshot.from_frames(logs, cohorts), config).views.collect().sort("user_id")


@pytest.mark.parametrize(
    ("path", "kind", "lesson"),
    [
        ("/", "navigation", None),
        ("toc", "navigation", None),
        ("search/search_index.json", "navigation", None),
        ("index.html", "navigation", None),
        (None, "empty", None),
        ("appendix/img/logo.PNG", "asset", None),
        ("wp-login.php", "probe", None),
        ("../../etc/passwd", "probe", None),
        ("javascript-i", "lesson", "javascript-i"),
        ("/javascript-i/", "lesson", "javascript-i"),
        ("Java-III?tab=2#top", "lesson", "java-iii"),
        (
            "1-fundamentals/1.1-intro-to-data-science",
            "lesson",
            "fundamentals/intro-to-data-science",
        ),
        ("fundamentals/intro-to-data-science", "lesson", "fundamentals/intro-to-data-science"),
        ("6-regression/1-overview", "lesson", "regression/overview"),
        ("python/intro-to-python", "lesson", "python/introduction-to-python"),
        # the real log's PHP curriculum: `content/` is a root folder, `content/php_ii` lists lessons
        ("content", "navigation", None),
        ("/content/", "navigation", None),
        ("content/php_ii", "navigation", None),
        ("appendix/index.html", "navigation", None),
        ("java-ii/toc", "navigation", None),
        ("content/php_ii/objects", "lesson", "php_ii/objects"),
        ("content/html-css/elements.html", "lesson", "html-css/elements.html"),
    ],
)
def test_paths_are_classified_and_normalised(
    path: str | None, kind: str, lesson: str | None, reference_cohorts: pl.DataFrame
) -> None:
    row = _views([path], reference_cohorts, Config()).row(0, named=True)
    config_aliased = Config().lessons.__class__(
        aliases={"python/intro-to-python": "python/introduction-to-python"}
    )
    if path == "python/intro-to-python":
        row = _views([path], reference_cohorts, Config().replace(lessons=config_aliased)).row(
            0, named=True
        )
    assert row["page_kind"] == kind
    assert row["lesson"] == lesson
    if lesson:
        assert row["module"] == lesson.split("/")[0]


@pytest.mark.parametrize(
    ("path", "title"),
    [
        ("java-iii/user-input", "Java III > User input"),
        ("javascript-i", "JavaScript I"),
        ("content/php_ii/objects", "PHP II > Objects"),
        ("content/html-css/elements.html", "HTML CSS > Elements"),
        ("6-regression/1-overview", "Regression > Overview"),
        ("mysql/intro-to-mysql/users.md", "MySQL > Intro to MySQL > Users"),
        ("javascript-ii/es6-api-calls", "JavaScript II > Es6 API calls"),
    ],
)
def test_lessons_get_titles_from_their_paths(
    path: str, title: str, reference_cohorts: pl.DataFrame
) -> None:
    row = _views([path], reference_cohorts, Config()).row(0, named=True)
    assert row["lesson_title"] == title


def test_title_words_are_spelled_as_one_regex_per_word_would() -> None:
    """lesson_title's one-pass spelling of TITLE_WORDS gives what a case-insensitive whole-word
    regex per word, applied in turn, gives (words inside longer words, digits, nulls, non-ASCII)."""
    lessons = [
        "java-iii/user-input",
        "api/apis-and-APIS/x_api",
        "sql-sql2/mysql.json",
        "i/ii-iii-iv-v-vi-vii",
        "über-api/ümlaut_i",
        "dom/ajax-jquery/javascript.md",
        "",
        None,
    ]
    frame = pl.DataFrame({"lesson": lessons}, schema={"lesson": pl.String})
    plain = pl.col("lesson").str.replace(r"\.(?:html?|md)$", "").str.replace_all(r"[-_]+", " ")
    parts = plain.str.split("/")
    title = pl.concat_list(
        parts.list.first().str.to_titlecase(),
        parts.list.slice(1).list.eval(
            pl.concat_str(
                pl.element().str.slice(0, 1).str.to_uppercase(), pl.element().str.slice(1)
            )
        ),
    ).list.join(" > ")
    for word, spelling in TITLE_WORDS.items():
        title = title.str.replace_all(rf"(?i)\b{word}\b", spelling)
    expected = frame.select(title.alias("title"))
    assert frame.select(lesson_title(pl.col("lesson")).alias("title")).equals(expected)
    assert expected["title"][0] == "Java III > User input"


def test_module_alias_renames_a_whole_folder(reference_cohorts: pl.DataFrame) -> None:
    lessons = Config().lessons.__class__(aliases={"sql": "mysql-for-ds"})
    views = _views(
        ["3-sql/3.1-mysql-overview", "sqlite/x"],
        reference_cohorts,
        Config().replace(lessons=lessons),
    )
    assert views["lesson"].to_list() == ["mysql-for-ds/mysql-overview", "sqlite/x"]


def test_roles_programs_and_windows(reference_cohorts: pl.DataFrame) -> None:
    # Ada (30) ran 2019-02-04 .. 2019-06-16; Staff is 28; 136 is the transition placeholder.
    logs = pl.DataFrame(
        {
            "timestamp": [
                dt.datetime(2019, 1, 20),  # before Ada starts
                dt.datetime(2019, 2, 4),  # first day: active
                dt.datetime(2019, 6, 16, 23),  # last day: still active
                dt.datetime(2019, 6, 27),  # 11 days after the end: alumni
                dt.datetime(2019, 6, 27),
                dt.datetime(2021, 3, 10),
                dt.datetime(2019, 6, 27),
                dt.datetime(2019, 6, 27),
            ],
            "path": ["javascript-i"] * 8,
            "user_id": [1, 1, 1, 1, 2, 3, 4, 5],
            "cohort_id": [30, 30, 30, 30, 28, 136, None, 999],
            "ip": ["203.0.113.9"] * 8,
        }
    )
    views = (
        prepare(Snapshot.from_frames(logs, reference_cohorts), Config())
        .views.collect()
        .sort("user_id", "timestamp")  # the log's order (the views carry none)
    )
    assert views["window"].to_list() == [
        "before",
        "active",
        "active",
        "alumni",
        None,
        None,
        None,
        None,
    ]
    assert views["role"].to_list() == [
        "student", "student", "student", "student", "staff", "placeholder", "no_cohort", "unknown_cohort",
    ]  # fmt: skip
    assert views["program"].to_list()[3:] == [
        "Data science", "Staff", "Java web dev", "No cohort", "Unknown cohort",
    ]  # fmt: skip
    assert views["days_after_end"].to_list()[3] == 11
    assert views["days_before_start"].to_list()[0] == 15
    students = student_lesson_views(
        prepare(Snapshot.from_frames(logs, reference_cohorts), Config())
    ).collect()
    assert set(students["user_id"]) == {1}


def test_users_in_several_cohorts_keep_each_enrollment(reference_cohorts: pl.DataFrame) -> None:
    logs = pl.DataFrame(
        {
            "timestamp": [
                dt.datetime(2019, 4, 1),
                dt.datetime(2019, 8, 1),
                dt.datetime(2019, 9, 1),
            ],
            "path": ["java-i", "java-ii", "java-ii"],
            "user_id": [7, 7, 7],
            "cohort_id": [31, 33, 33],  # Andromeda, then Ceres (a re-take)
            "ip": ["203.0.113.9"] * 3,
        }
    )
    prepared = prepare(Snapshot.from_frames(logs, reference_cohorts), Config())
    table = enrollments(prepared).collect()
    assert table["cohort_name"].to_list() == ["Andromeda", "Ceres"]
    # the labels joined by cohort id are those the views carry on each row
    labels = ["cohort_id", "cohort_name", "program", "role", "start_date", "end_date"]
    per_row = prepared.views.select(labels).unique().collect().sort("cohort_id")
    assert table.select(labels).equals(per_row)
    assert table["views"].to_list() == [1, 2]
    assert table["cohorts_of_user"].to_list() == [2, 2]
    # 2019-08-01 is after Andromeda's end but the row names Ceres, where it is active.
    assert prepared.views.collect()["window"].to_list() == ["active", "active", "active"]


def test_campus_ips_need_volume_and_many_users(reference_cohorts: pl.DataFrame) -> None:
    n_campus = 60
    logs = pl.DataFrame(
        {
            "timestamp": [dt.datetime(2019, 3, 1, 9)] * (n_campus + 40),
            "path": ["java-i"] * (n_campus + 40),
            "user_id": list(range(n_campus)) + [999] * 40,
            "cohort_id": [31] * (n_campus + 40),
            "ip": ["198.51.100.1"] * n_campus + ["203.0.113.5"] * 40,
        }
    )
    prepared = prepare(Snapshot.from_frames(logs, reference_cohorts), Config())
    assert campus_ips(prepared, Config()) == [
        "198.51.100.1"
    ]  # the single heavy user's IP is not campus


def _two_track_snapshot() -> Snapshot:
    """Java web dev cohort 1 (web_dev) and Data science cohort 2 (data_science), known views per module:
    java-i 9 + 1, sql 5 + 5, python 0 + 10, staff 40 on python (staff never count)."""
    cohorts = pl.DataFrame(
        {
            "id": [1, 2, 9],
            "name": ["Ada", "Bayes", "Staff"],
            "slack": ["#x"] * 3,
            "start_date": [dt.date(2019, 1, 1)] * 3,
            "end_date": [dt.date(2019, 6, 1)] * 3,
            "created_at": [None] * 3,
            "updated_at": [None] * 3,
            "deleted_at": [None] * 3,
            "program_id": [2, 3, 2],
        }
    )
    counts = [
        (1, "java-i/intro", 9),
        (2, "java-i/intro", 1),
        (1, "sql/select", 5),
        (2, "2-sql/1-select", 5),
        (2, "python/lists", 10),
        (9, "python/lists", 40),
        (1, "toc", 30),  # navigation: no module
    ]
    rows = [
        (dt.datetime(2019, 3, 1, 9), path, cohort * 10, cohort, "203.0.113.5")
        for cohort, path, n in counts
        for _ in range(n)
    ]
    logs = pl.DataFrame(
        rows, schema=["timestamp", "path", "user_id", "cohort_id", "ip"], orient="row"
    )
    return Snapshot.from_frames(logs, cohorts)


def test_keep_own_track_drops_only_the_other_tracks_lessons() -> None:
    homes = pl.DataFrame(
        {"lesson": ["java-i/a", "sql/b", "python/c"], "home": ["web_dev", None, "data_science"]}
    )
    frame = pl.DataFrame(
        {
            "track": ["web_dev", "web_dev", "web_dev", "data_science", None, "web_dev"],
            "lesson": ["java-i/a", "sql/b", "python/c", "java-i/a", "python/c", "unknown/d"],
            "n": [1, 2, 3, 4, 5, 6],
        }
    )
    # kept: own home (1), shared (2), program without a track (5), lesson without a home entry (6)
    assert keep_own_track(frame, homes)["n"].to_list() == [1, 2, 5, 6]
    lazy = keep_own_track(frame.lazy(), homes)
    assert isinstance(lazy, pl.LazyFrame) and lazy.collect()["n"].to_list() == [1, 2, 5, 6]
    assert keep_own_track(frame, homes).columns == frame.columns


def test_campus_ips_are_computed_once_per_prepared_view(config) -> None:
    """q3 and q8 share one computation; a question working on other views gets its own."""
    from analysis.prepare import campus_ips
    from analysis.sources.snapshot import Snapshot

    cohorts = pl.DataFrame(
        {
            "id": [1],
            "name": ["Web"],
            "slack": ["#w"],
            "start_date": [dt.date(2019, 1, 7)],
            "end_date": [dt.date(2019, 5, 31)],
            "created_at": [None],
            "updated_at": [None],
            "deleted_at": [None],
            "program_id": [2],
        }
    )
    campus, home = "203.0.113.10", "198.51.100.7"
    logs = pl.DataFrame(
        {
            "timestamp": [dt.datetime(2019, 2, 1, 9, m) for m in range(40)],
            "path": ["javascript-i"] * 40,
            "user_id": list(range(30)) + [99] * 10,
            "cohort_id": [1] * 40,
            "ip": [campus] * 30 + [home] * 10,
        }
    )
    few = dataclasses.replace(config.q4, shared_ip_min_users=25, campus_ip_min_share=0.1)
    settings = config.replace(q4=few)
    prepared = prepare(Snapshot.from_frames(logs=logs, cohorts=cohorts), settings)
    assert campus_ips(prepared, settings) == [campus]
    assert prepared.shared  # kept for the next question
    home_only = dataclasses.replace(prepared, views=prepared.views.filter(pl.col("ip") == home))
    assert not home_only.shared and campus_ips(home_only, settings) == []
    assert campus_ips(prepared, settings) == [campus]


def test_user_addresses_count_every_view_once_per_user_cohort_and_address(reference_cohorts):
    """One row per (user, cohort, ip), nulls included, with the views and the first and last view;
    computed once per prepared view, and afresh for other views."""
    at = [dt.datetime(2019, 3, 1, 9, m) for m in range(6)]
    logs = pl.DataFrame(
        {
            "timestamp": at,
            "path": ["javascript-i"] * 6,
            "user_id": [1, 1, 1, 2, None, None],
            "cohort_id": [30, 30, None, 30, None, None],
            "ip": ["203.0.113.9", "203.0.113.9", "203.0.113.9", None, "198.51.100.7", None],
        }
    )
    prepared = prepare(Snapshot.from_frames(logs, reference_cohorts), load_config(environ={}))
    rows = user_addresses(prepared).sort("user_id", "cohort_id", "ip", nulls_last=True)
    assert rows.rows() == [
        (1, 30, "203.0.113.9", 2, at[0], at[1]),
        (1, None, "203.0.113.9", 1, at[2], at[2]),
        (2, 30, None, 1, at[3], at[3]),
        (None, None, "198.51.100.7", 1, at[4], at[4]),
        (None, None, None, 1, at[5], at[5]),
    ]
    assert user_addresses(prepared) is user_addresses(prepared)  # kept for the next question
    first_two = dataclasses.replace(prepared, views=prepared.views.filter(pl.col("user_id") == 1))
    assert sorted(user_addresses(first_two)["views"].to_list()) == [1, 2]


def _lesson_track() -> pl.DataFrame:
    rows = [  # lesson, module, track, views (any window), enrolled views
        ("fundamentals/git", "fundamentals", "web_dev", 40, 40),
        ("fundamentals/intro", "fundamentals", "data_science", 400, 400),
        ("fundamentals/intro", "fundamentals", "web_dev", 10, 10),  # reading across programs
        ("java/a", "java", "web_dev", 1000, 1000),
        ("sql/joins", "sql", "web_dev", 200, 200),  # 80% of the views, but the same rate
        ("sql/joins", "sql", "data_science", 50, 50),
        ("fundamentals/rare", "fundamentals", "web_dev", 3, 3),  # too few: the module decides
        ("python/old", "python", "data_science", 30, 0),  # read by alumni only
    ]
    return pl.DataFrame(
        rows, schema=["lesson", "module", "track", "views", "enrolled_views"], orient="row"
    ).cast({"views": pl.Int64, "enrolled_views": pl.Int64})


def test_lesson_homes_follow_each_programs_own_enrolled_reading() -> None:
    homes = lesson_home_table(_lesson_track(), Config())
    assert homes.schema == pl.Schema(LESSON_HOMES_SCHEMA)
    got = {r["lesson"]: (r["home"], r["basis"]) for r in homes.iter_rows(named=True)}
    assert got == {
        # one module, lessons of both programs
        "fundamentals/git": ("web_dev", "lesson"),
        "fundamentals/intro": ("data_science", "lesson"),
        "java/a": ("web_dev", "lesson"),
        # 200 of 250 views are web dev, but per view of their own reading both programs read it
        # alike (16% and 11%): shared material
        "sql/joins": (None, "lesson"),
        "fundamentals/rare": ("data_science", "module"),
        "python/old": (None, "module"),
    }
    share = homes.filter(pl.col("lesson") == "sql/joins")["share"].item()
    assert share == pytest.approx((200 / 1253) / (200 / 1253 + 50 / 450))


def test_lesson_home_overrides_name_a_lesson_or_a_module() -> None:
    base = Config()
    config = base.replace(
        q5=dataclasses.replace(
            base.q5, lesson_home_overrides={"sql/joins": "data_science", "java": "data_science"}
        )
    )
    homes = lesson_home_table(_lesson_track(), config)
    got = {r["lesson"]: (r["home"], r["basis"]) for r in homes.iter_rows(named=True)}
    assert got["sql/joins"] == ("data_science", "override")
    assert got["java/a"] == ("data_science", "override")
    assert got["fundamentals/git"] == ("web_dev", "lesson")
    bad = base.replace(q5=dataclasses.replace(base.q5, lesson_home_overrides={"x/y": "nursing"}))
    with pytest.raises(ConfigError, match="nursing"):
        lesson_home_table(_lesson_track(), bad)


def test_lesson_homes_from_prepared_views_and_keep_own_track_on_lessons() -> None:
    config = Config()
    homes = lesson_homes(prepare(_two_track_snapshot(), config), config)
    # every lesson has fewer than lesson_home_min_views enrolled views: the module decides
    assert set(homes["basis"]) == {"module"}
    assert dict(homes.select("lesson", "home").rows()) == {
        "java-i/intro": "web_dev",
        "python/lists": "data_science",
        "sql/select": None,
    }
    frame = pl.DataFrame(
        {
            "track": ["web_dev", "web_dev", "data_science", "web_dev"],
            "lesson": ["java-i/intro", "python/lists", "python/lists", "new/page"],
            "n": [1, 2, 3, 4],
        }
    )
    assert keep_own_track(frame, homes)["n"].to_list() == [1, 3, 4]


def test_lesson_track_counts_by_cohort_id_match_the_rows_labels() -> None:
    """The rows chosen and the tracks joined by cohort id are those the per-row role, page kind,
    module and track pick out (staff views of python/lists and navigation rows stay out)."""
    prepared = prepare(_two_track_snapshot(), Config())
    assert dict(tracked_cohorts(prepared).rows()) == {1: "web_dev", 2: "data_science"}
    rows = track_lesson_views(prepared).collect()
    by_label = prepared.views.filter(
        (pl.col("role") == "student")
        & (pl.col("page_kind") == "lesson")
        & pl.col("module").is_not_null()
        & (pl.col("module") != "")
        & pl.col("track").is_not_null()
    ).collect()
    assert rows.height == by_label.height == 30
    table = lesson_track_counts(prepared).collect()
    expected = (
        by_label.group_by(pl.col("lesson").cast(pl.String), pl.col("track").cast(pl.String))
        .agg(
            pl.len().cast(pl.Int64).alias("views"),
            (pl.col("window") == "active").sum().cast(pl.Int64).alias("enrolled_views"),
        )
        .with_columns(pl.col("lesson").str.split("/").list.first().alias("module"))
        .select(table.columns)
    )
    assert table.sort("lesson", "track").equals(expected.sort("lesson", "track"))
    assert table.height == 5  # java-i and sql by both tracks, python by data science only


@pytest.mark.parametrize(
    "path",
    [
        "server-status",
        "actuator/env",
        "solr/admin/info/system",
        ".aws/credentials",
        "config.php.bak",
        "vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
        ".ssh/id_rsa",
    ],
)
def test_common_scanner_paths_are_probes(path: str) -> None:
    """Well-known vulnerability-scanner targets (not only WordPress) are probes, never lessons."""
    config = load_config(environ={})
    kind = pl.select(page_kind(pl.lit(path), config)).item()
    assert kind == "probe"


def test_automated_episodes_are_found_once_and_set_aside(reference_cohorts, config):
    """The one list of automated actors: a 200-page burst of one student (a page a second) is an
    automated fetching episode; its views leave `views` (every other question's population) for that
    episode only, and `all_views` (question 4's) keeps every row."""
    from analysis.prepare import all_views

    burst_at = dt.datetime(2019, 3, 1, 2, 0)
    burst = [burst_at + dt.timedelta(seconds=i) for i in range(200)]
    reading = [dt.datetime(2019, 3, 2, 10) + dt.timedelta(minutes=4 * i) for i in range(6)]
    stamps = burst + reading
    logs = pl.DataFrame(
        {
            "timestamp": stamps,
            "path": [f"javascript-i/lesson-{i}" for i in range(len(stamps))],
            "user_id": [7] * len(stamps),
            "cohort_id": [30] * len(stamps),
            "ip": ["203.0.113.9"] * len(stamps),
        }
    )
    prepared = prepare(Snapshot.from_frames(logs, reference_cohorts), config)
    episodes = prepared.automated.episodes
    assert episodes.select("kind", "user_id").rows() == [("scraping", 7)]
    assert (episodes["start"][0], episodes["end"][0]) == (burst[0], burst[-1])
    kept = prepared.views.collect()
    assert kept.height == 6 and kept["timestamp"].min() == reading[0]
    assert prepared.automated.views_set_aside == 200
    assert prepared.automated.student_views_set_aside == 200
    assert all_views(prepared).collect().height == len(stamps)
    assert student_lesson_views(prepared).collect().height == 6


def test_no_automation_leaves_the_views_whole(reference_cohorts, config):
    views = _views(["javascript-i/intro", "java-ii/spring"], reference_cohorts, config)
    assert views.height == 2


def _window_rows() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Cohort labels as prepare looks them up (ids with gaps; a student cohort without dates, staff,
    an unknown cohort, the null id) and rows on every edge of an enrollment window."""
    labels = pl.DataFrame(
        {
            "cohort_id": [None, 3, 5, 6, 9],
            "role": ["no_cohort", "student", "student", "staff", "unknown_cohort"],
            "start_date": [None, dt.date(2019, 2, 4), None, dt.date(2014, 1, 1), None],
            "end_date": [None, dt.date(2019, 2, 6), None, dt.date(2014, 2, 1), None],
        }
    ).with_columns(pl.col("role").cast(pl.Categorical))
    day = dt.datetime(2019, 2, 3)
    stamps = [day + dt.timedelta(hours=hours) for hours in (0, 23, 24, 47, 71, 72, 95, 96, 200)]
    rows = pl.DataFrame(
        {
            "timestamp": [stamp for stamp in stamps for _ in range(5)],
            "cohort_id": [None, 3, 5, 6, 9] * len(stamps),
        },
        schema={"timestamp": pl.Datetime("us"), "cohort_id": pl.Int16},
    )
    return labels, rows


def test_window_lookup_is_the_window_of_each_row() -> None:
    """The window read from a table per cohort and day (one gather a row) is the window computed
    from each row's role and dates."""
    from analysis.prepare import window_lookup, window_of

    labels, rows = _window_rows()
    first, last = rows["timestamp"].min(), rows["timestamp"].max()
    fast = window_lookup(labels, rows.schema["timestamp"], first, last)  # type: ignore[arg-type]
    assert fast is not None
    got = rows.with_columns(fast)
    plain = (
        rows.with_columns(pl.col("cohort_id").cast(pl.Int64))
        .join(labels, on="cohort_id", how="left", nulls_equal=True, maintain_order="left")
        .with_columns(
            window_of(
                pl.col("role"),
                pl.col("timestamp").dt.date(),
                pl.col("start_date"),
                pl.col("end_date"),
            )
        )
    )
    assert got.schema["window"] == pl.Categorical
    assert got["window"].to_list() == plain["window"].to_list()
    # student cohort 3 (2019-02-04 .. 02-06) on 02-03, 02-03 23:00, 02-04, 02-04 23:00, 02-05 23:00,
    # 02-06, 02-06 23:00, 02-07, 02-11; cohort 5 has no dates (alumni, as the plain rule says)
    assert got.filter(pl.col("cohort_id") == 3)["window"].to_list() == [
        "before", "before", "active", "active", "active", "active", "active", "alumni", "alumni",
    ]  # fmt: skip
    assert set(got.filter(pl.col("cohort_id") == 5)["window"]) == {"alumni"}
    assert (
        got.filter(~pl.col("cohort_id").is_in([3, 5]) | pl.col("cohort_id").is_null())["window"]
        .is_null()
        .all()
    )
    # no table: a time zone (the date is not a day count), no view, a table too large
    assert window_lookup(labels, pl.Datetime("us", "UTC"), first, last) is None
    assert window_lookup(labels, pl.Datetime("us"), None, None) is None
    assert (
        window_lookup(labels, pl.Datetime("us"), first, first + dt.timedelta(days=1 << 20)) is None
    )


def _automated_snapshot(reference_cohorts: pl.DataFrame) -> Snapshot:
    """Students' and staff views, and an address sweeping attack paths (a high-tier probe episode
    whose rows prepare sets aside)."""
    start = dt.datetime(2019, 5, 1, 9)
    people = [
        (
            start + dt.timedelta(hours=5 * i),
            f"javascript-i/page-{i % 7}",
            i % 6,
            [30, 28, None][i % 3],
        )
        for i in range(60)
    ]
    probes = [
        (start + dt.timedelta(days=3, minutes=i), f"wp-login.php?{i}", None, None)
        for i in range(15)
    ]
    logs = pl.DataFrame(
        [(*row[:3], row[3], "203.0.113.9" if row[2] is not None else "198.51.100.7")
         for row in people + probes],
        schema=["timestamp", "path", "user_id", "cohort_id", "ip"],
        orient="row",
    )  # fmt: skip
    return Snapshot.from_frames(logs, reference_cohorts)


def test_prepare_hands_its_kept_rows_to_materialize(
    reference_cohorts: pl.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the window read from a table, prepare collects the kept rows with their window once
    and materialize takes them: the same views, set-aside rows and materialized views as when the
    window is looked up per row and materialize collects the views."""
    from analysis import prepare as prepare_module
    from analysis.prepare import CATEGORICAL_COLUMNS, as_text
    from analysis.report import materialize

    snapshot = _automated_snapshot(reference_cohorts)
    fast = prepare(snapshot, Config())
    assert fast.stored.rows is not None
    assert fast.set_aside is not None and fast.automated.views_set_aside == 15
    monkeypatch.setattr(prepare_module, "window_lookup", lambda *args: None)
    plain = prepare(snapshot, Config())
    assert plain.stored.rows is None

    def rows(frame: pl.LazyFrame) -> pl.DataFrame:
        got = frame.collect()
        return as_text(got).sort(got.columns, nulls_last=True)

    for got, expected in (
        (fast.views, plain.views),
        (fast.set_aside, plain.set_aside),
        (materialize(fast).views, materialize(plain).views),
    ):
        assert got is not None and expected is not None
        assert got.collect_schema() == expected.collect_schema()
        assert rows(got).equals(rows(expected))
    assert rows(fast.views).height == 60
    assert {
        name for name, dtype in fast.views.collect_schema().items() if dtype == pl.Categorical
    } == set(CATEGORICAL_COLUMNS)


def test_time_units_counts_seconds_in_each_unit() -> None:
    """An hour and a day in a Datetime's integer, for each time unit: the divisors of the packed
    time keys (automation's grid, the window table, question 5's days, question 8's hours)."""
    from analysis.schema import time_units

    assert time_units(pl.Datetime("ms"), 3600) == 3_600_000
    assert time_units(pl.Datetime("us"), 86_400) == 86_400_000_000
    assert time_units(pl.Datetime("ns"), 3600) == 3_600_000_000_000
    stamps = pl.Series([dt.datetime(2020, 1, 2, 5, 30)]).cast(pl.Datetime("ms"))
    assert stamps.to_physical()[0] // time_units(pl.Datetime("ms"), 86_400) == 18263  # 2020-01-02
