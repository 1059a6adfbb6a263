"""The page's message catalogues (frontend/i18n/<lang>.json), without a browser.

en.json is the source: every other catalogue has exactly its keys, each message in the same shape (a string,
or a choice by the same parameter), the same {placeholders} and word marks, the plural categories its language
uses (Russian one/few/many/other, Chinese and Japanese other only: as Intl.PluralRules names them, which
tests/test_browser_languages.py checks in Chromium), the choices by the alphabet's kind for both kinds, and a
list of what a native speaker should read first. The list of languages the page offers (js/i18n.js) and the
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


def test_every_catalogue_has_exactly_the_keys_of_english(lang):
    theirs = messages(load(lang))
    assert not set(ENGLISH) - set(theirs), f"{lang} lacks {sorted(set(ENGLISH) - set(theirs))}"
    assert not set(theirs) - set(ENGLISH), f"{lang} has keys English has not: {sorted(set(theirs) - set(ENGLISH))}"


def test_messages_keep_their_shape_placeholders_and_marks(lang):
    theirs = messages(load(lang))
    for key, english in ENGLISH.items():
        message = theirs[key]
        assert type(message) is type(english), (lang, key, "a string in one, a choice in the other")
        if isinstance(english, dict):
            head = "plural" if "plural" in english else "select"
            assert message.get(head) == english[head], (lang, key, f"chooses by {head} {english[head]!r}")
        assert placeholders(message) == placeholders(english), (lang, key, placeholders(message), placeholders(english))
        assert marks(message) == marks(english), (lang, key, marks(message), marks(english))
        for text in branches(message):
            assert text.strip(), (lang, key, "an empty message")
            assert balanced(text), (lang, key, "a mark opened and not closed", text)
            assert '"' not in text, (lang, key, "straight quotes: use the language's own")


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


def test_choices_by_kind_say_both_kinds(lang):
    theirs = messages(load(lang))
    for key, english in ENGLISH.items():
        for english_choice, choice in zip(choices(english), choices(theirs[key])):
            if choice.get("select") == "kind":
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
