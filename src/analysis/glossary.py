"""One glossary: the words every page, chart, slide and email use for the same thing.

A reader meets one name per thing: a tier is always "High tier", a track "web development", a student's
later self a "graduate". Question modules and charts take their terms from here instead of spelling
them inline, so two pages cannot drift apart ("automated downloads" beside "Automated fetching").
Programs are named by configuration (`[programs]` labels, see `prepare.cohort_table`); the roles that
are not programs get their names here.
"""

from __future__ import annotations

# People and what they do.
STUDENT, STUDENTS = "student", "students"  # enrolled in a cohort of a program (role `student`)
GRADUATE, GRADUATES = "graduate", "graduates"  # a student after their cohort's end date
STAFF = "Staff"
VIEW, VIEWS = "view", "views"  # one row of the log: one page requested
LESSON, LESSONS = "lesson", "lessons"
TOPIC, TOPICS = "topic", "topics"  # a module: the first folder of a lesson's path

# Question 3: one person behind two user ids of a cohort, taking over from each other. Not question 4's
# "shared account" (several people on one user id at once).
SAME_PERSON = "may be one person"
SECOND_ACCOUNT = "Possible second account"

# Roles that are not programs (the `program` column of the prepared views).
ROLE_NAMES: dict[str, str] = {
    "staff": STAFF,
    "no_cohort": "No cohort",
    "unknown_cohort": "Unknown cohort",
}

# Curriculum tracks (`[programs.track]`): the noun, and the adjective before "students"/"lessons".
TRACK_NAMES: dict[str, str] = {"web_dev": "web development", "data_science": "data science"}
TRACK_ADJECTIVES: dict[str, str] = {"web_dev": "web-development", "data_science": "data-science"}

# Question 4's tiers and incident kinds, as readers see them.
TIER_NAMES: dict[str, str] = {"high": "High", "medium": "Medium", "low": "Low"}
KIND_NAMES: dict[str, str] = {
    "probe": "Attack probes",
    "scraping": "Automated fetching",
    "account_sharing": "Shared account",
    "shared_ip": "Shared outside network",
    "heavy_day": "Heavy day",
    "stale_account": "Old account in use",
    "unknown_user": "Unknown account",
}


def tier_name(tier: str) -> str:
    """'high' -> 'High tier'."""
    return f"{TIER_NAMES.get(tier, tier.capitalize())} tier"


def track_name(track: str | None) -> str:
    """'web_dev' -> 'web development'; an unknown track as written, with spaces."""
    if track is None:
        return "no track"
    return TRACK_NAMES.get(track, track.replace("_", " "))


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """'1 student', '3 students', '1,204 views'."""
    word = singular if count == 1 else (plural_form or f"{singular}s")
    return f"{count:,} {word}"


__all__ = [
    "GRADUATE",
    "GRADUATES",
    "KIND_NAMES",
    "LESSON",
    "LESSONS",
    "ROLE_NAMES",
    "SAME_PERSON",
    "SECOND_ACCOUNT",
    "STAFF",
    "STUDENT",
    "STUDENTS",
    "TIER_NAMES",
    "TOPIC",
    "TOPICS",
    "TRACK_ADJECTIVES",
    "TRACK_NAMES",
    "VIEW",
    "VIEWS",
    "plural",
    "tier_name",
    "track_name",
]
