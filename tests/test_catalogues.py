"""The page's message catalogues (frontend/i18n/<lang>.json), without a browser.

en.json is the source: every other catalogue has exactly its keys, each message in the same shape (a string,
or a choice by the same parameter), the same {placeholders} and word marks, the plural categories its language
uses (Russian one/few/many/other, Chinese and Japanese other only: as Intl.PluralRules names them, which
tests/test_browser_languages.py checks in Chromium), the choices by the alphabet's kind for both kinds, and a
list of what a native speaker should read first (test_the_checks_catch_an_incomplete_catalogue: the checks fail
on a catalogue that lacks a key). The list of languages the page offers (js/i18n.js) and the
files in frontend/i18n/ are the same.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parents[1] / "frontend"
CATALOGUES = FRONTEND / "i18n"
# The plural categories of each language (CLDR, as Intl.PluralRules gives them), and those a translation must
# give every plural message: all of Russian's, since one form rarely serves 1, 3 and 5 (the English "other"
# alone, "# saved", is enough where English and its neighbours need no other form).
PLURALS = {"en": {"one", "other"}, "de": {"one", "other"}, "fr": {"one", "many", "other"},
           "ru": {"one", "few", "many", "other"}, "zh-Hans": {"other"}, "ja": {"other"}}
REQUIRED = {"ru": {"one", "few", "many", "other"}}
TAGS = re.compile(r"</?(\w+)>")


def offered() -> list[str]:
    """The languages js/i18n.js offers, in its order."""
    source = (FRONTEND / "js" / "i18n.js").read_text(encoding="utf-8")
    block = re.search(r"export const LANGUAGES = \[(.*?)\];", source, re.S).group(1)
    return re.findall(r'tag: "([^"]+)"', block)


def load(tag: str) -> dict:
    return json.loads((CATALOGUES / f"{tag}.json").read_text(encoding="utf-8"))


def is_message(value) -> bool:
    return isinstance(value, str) or "plural" in value or "select" in value


def messages(node: dict, prefix: str = "") -> dict[str, object]:
    """Every message of a catalogue by its key ("answer.its"); keys starting with _ are notes."""
    found = {}
    for key, value in node.items():
        if key.startswith("_"):
            continue
        if is_message(value):
            found[prefix + key] = value
        else:
            found |= messages(value, f"{prefix}{key}.")
    return found


def branches(message) -> list[str]:
    """Every string a message can say."""
    if isinstance(message, str):
        return [message]
    head = "plural" if "plural" in message else "select"
    return [text for case, value in message.items() if case != head for text in branches(value)]


def placeholders(message) -> set[str]:
    return {name for text in branches(message) for name in re.findall(r"\{(\w+)\}", text)}


def marks(message) -> set[str]:
    return {tag for text in branches(message) for tag in TAGS.findall(text)}


def balanced(text: str) -> bool:
    """Every <mark> is closed, in order."""
    stack = []
    for closing, tag in re.findall(r"<(/?)(\w+)>", text):
        if not closing:
            stack.append(tag)
        elif not stack or stack.pop() != tag:
            return False
    return not stack


def choices(message, found=None) -> list[dict]:
    """The choice objects of a message, nested ones too."""
    found = [] if found is None else found
    if isinstance(message, dict):
        found.append(message)
        head = "plural" if "plural" in message else "select"
        for case, value in message.items():
            if case != head:
                choices(value, found)
    return found


ENGLISH = messages(load("en"))
OTHERS = [tag for tag in offered() if tag != "en"]


def test_the_page_offers_every_catalogue_there_is():
    assert offered()[0] == "en"
    assert offered() == ["en", "de", "fr", "ru", "zh-Hans", "ja"]
    assert sorted(p.stem for p in CATALOGUES.glob("*.json")) == sorted(offered())


@pytest.fixture(params=OTHERS)
def lang(request) -> str:
    return request.param


def key_problems(theirs: dict) -> list[str]:
    """What a catalogue's messages lack or have more of than English's."""
    return [f"lacks {key}" for key in ENGLISH if key not in theirs] + \
           [f"has {key}, which English has not" for key in theirs if key not in ENGLISH]


def message_problems(theirs: dict) -> list[str]:
    """Each message of English said in another shape, with other placeholders or marks, or not at all."""
    found = []
    for key, english in ENGLISH.items():
        if key not in theirs:
            continue
        message = theirs[key]
        if type(message) is not type(english):
            found.append(f"{key}: a string in one, a choice in the other")
            continue
        if isinstance(english, dict):
            head = "plural" if "plural" in english else "select"
            if message.get(head) != english[head]:
                found.append(f"{key}: chooses by {head} {message.get(head)!r}, not {english[head]!r}")
        if placeholders(message) != placeholders(english):
            found.append(f"{key}: placeholders {sorted(placeholders(message))}, not {sorted(placeholders(english))}")
        if marks(message) != marks(english):
            found.append(f"{key}: marks {sorted(marks(message))}, not {sorted(marks(english))}")
        for text in branches(message):
            if not text.strip():
                found.append(f"{key}: an empty message")
            if not balanced(text):
                found.append(f"{key}: a mark opened and not closed: {text}")
            if '"' in text:
                found.append(f"{key}: straight quotes (use the language's own): {text}")
    return found


def test_every_catalogue_has_exactly_the_keys_of_english(lang):
    assert not key_problems(messages(load(lang))), (lang, key_problems(messages(load(lang))))


def test_messages_keep_their_shape_placeholders_and_marks(lang):
    assert not message_problems(messages(load(lang))), (lang, message_problems(messages(load(lang))))


def test_the_checks_catch_an_incomplete_catalogue():
    """A catalogue that lost a key (a whole group, say, when English grows one), a placeholder, or a choice's
    parameter fails: the checks above are not vacuous."""
    broken = load("de")
    del broken["console"]["queue"]["refresh"]
    del broken["console"]["keys"]
    broken["errors"]["code"]["storage_unavailable"]["select"] = "kind"
    broken["console"]["row"]["name"] = broken["console"]["row"]["name"].replace("{status}", "{state}")
    broken["answer"]["extra"] = "Mehr"
    problems = key_problems(messages(broken))
    assert "lacks console.queue.refresh" in problems and "lacks console.keys.help" in problems, problems
    assert "has answer.extra, which English has not" in problems, problems
    problems = message_problems(messages(broken))
    assert any(p.startswith("errors.code.storage_unavailable: chooses by select 'kind'") for p in problems), problems
    assert any(p.startswith("console.row.name: placeholders") for p in problems), problems
    assert not message_problems(messages(load("de"))) and not key_problems(messages(load("de")))


def test_plural_categories_are_those_the_language_uses(lang):
    theirs = messages(load(lang))
    for key, english in ENGLISH.items():
        for english_choice, choice in zip(choices(english), choices(theirs[key])):
            if "plural" not in choice:
                continue
            cases = {case for case in choice if case != "plural" and not re.fullmatch(r"=\d+", case)}
            assert "other" in cases, (lang, key)
            assert cases <= PLURALS[lang], (lang, key, f"{sorted(cases - PLURALS[lang])} are never chosen in {lang}")
            assert REQUIRED.get(lang, set()) <= cases, (lang, key, f"needs {sorted(REQUIRED[lang] - cases)}")
            if lang in ("de", "fr") and "one" in english_choice:
                assert "one" in cases, (lang, key)


def test_choices_by_the_alphabet_say_every_case(lang):
    theirs = messages(load(lang))
    for key, english in ENGLISH.items():
        for english_choice, choice in zip(choices(english), choices(theirs[key])):
            if choice.get("select") in ("kind", "calibrated"):  # the alphabet's: each case is met somewhere
                assert set(choice) == set(english_choice), (lang, key)
            elif "select" in choice:  # an article by the digit, words by the action asked: fewer cases may do
                assert "other" in choice and set(choice) <= set(english_choice), (lang, key)


def test_each_catalogue_says_what_to_review_first(lang):
    catalogue = load(lang)
    assert catalogue.get("_notes"), lang
    review = catalogue.get("_review")
    assert isinstance(review, list) and len(review) >= 5, lang
    assert not set(review) - set(ENGLISH), (lang, sorted(set(review) - set(ENGLISH)))


def test_nothing_is_left_in_english(lang):
    """A sentence that reads exactly as English is one nobody translated (a word may be the same: Stats, online)."""
    theirs = messages(load(lang))
    words = lambda text: re.findall(r"[A-Za-z]+", re.sub(r"\{\w+\}", "", text))  # noqa: E731
    sentences = {key for key, english in ENGLISH.items() if any(len(words(text)) >= 3 for text in branches(english))}
    same = sorted(key for key in sentences if theirs[key] == ENGLISH[key])
    assert not same, (lang, same)


def test_french_punctuation_keeps_its_space():
    """French puts a no-break space before : ; ! ? and inside « »: a plain space there breaks the line wrongly."""
    for key, message in messages(load("fr")).items():
        for text in branches(message):
            assert not re.search(r" [:;!?»]|« ", text), (key, text)
            assert not re.search(r"\w[;!?]", text), (key, text)
