"""The promotion gate's verdict: every rule a challenger fails is named in its reason, so an operator reading a
refusal learns everything that would have to change, not only the first thing."""

from __future__ import annotations

from service.core.promotions import Rules, judge

RULES = Rules(min_drawings=100, writer_min=20)
MNIST = 0.9946


def verdict(*, champion_right, challenger_right, holdout_challenger=MNIST, writers=None):
    writers = writers or ["a"] * len(champion_right)
    return judge("cnn", holdout=("MNIST test", MNIST, holdout_challenger, 10_000), champion_right=champion_right,
                 challenger_right=challenger_right, writers=writers, rules=RULES)


def better_on_the_crowd(n=200, champion_wrong=30, challenger_wrong=5):
    return [True] * (n - champion_wrong) + [False] * champion_wrong, \
        [True] * (n - challenger_wrong) + [False] * challenger_wrong


def test_a_challenger_passing_every_rule_is_promoted_with_its_figures():
    champion, challenger = better_on_the_crowd()
    v = verdict(champion_right=champion, challenger_right=challenger)
    assert v.promote and v.reason.startswith("promoted: crowd holdout 97.5% vs 85.0% (p < 0.001, 200 drawings)")
    assert v.figures["failed"] == []


def test_one_failing_rule_is_the_whole_reason():
    champion, challenger = better_on_the_crowd()
    v = verdict(champion_right=champion, challenger_right=challenger, holdout_challenger=0.9900)
    assert not v.promote
    assert v.reason == "not promoted: MNIST test 99.00% vs 99.46% (more than 0.2 points worse)"
    assert v.figures["failed"] == ["holdout"]


def test_every_failing_rule_is_named_not_only_the_first():
    same = [True] * 150 + [False] * 50
    # one writer's 40 drawings all wrong for the challenger, right for the champion; another's the other way
    champion = [True] * 40 + [False] * 40 + same[80:]
    challenger = [False] * 40 + [True] * 40 + same[80:]
    v = verdict(champion_right=champion, challenger_right=challenger, holdout_challenger=0.9800,
                writers=["a"] * 40 + ["b"] * 40 + ["c"] * 120)
    assert not v.promote
    assert v.figures["failed"] == ["crowd", "holdout", "writer"]
    assert v.reason == ("not promoted: crowd holdout 55.0% vs 55.0%, p = 1 (needs < 0.05 and the challenger ahead); "
                        "MNIST test 98.00% vs 99.46% (more than 0.2 points worse); "
                        "a writer's 40 drawings 0.0% vs 100.0% (more than 1 point worse)")


def test_too_few_drawings_to_judge_skips_the_crowd_test_but_not_the_other_rules():
    champion, challenger = better_on_the_crowd(n=60, champion_wrong=10, challenger_wrong=2)
    v = verdict(champion_right=champion, challenger_right=challenger, holdout_challenger=0.9800)
    assert not v.promote and v.figures["failed"] == ["drawings", "holdout"]
    assert v.reason == ("not promoted: only 60 crowd drawings after the cut-off (needs 100); "
                        "MNIST test 98.00% vs 99.46% (more than 0.2 points worse)")
