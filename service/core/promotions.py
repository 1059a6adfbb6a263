"""Promotions: a retrained original replaces the one served (its *champion*) only through a gate that says why.

A retrain run (:mod:`service.retrain`) trains a *challenger* for each original from the alphabet's base
data and the curated crowd up to a cut-off, scores it beside the champion, and writes one record; each
model the gate passes is promoted. The gate (:func:`judge`) wants the challenger

- better on the crowd's drawings stored after the cut-off (never trained on), by McNemar's exact test
  on the drawings where exactly one of the two is right (p below ``p_below``, at least ``min_drawings``);
- no more than ``holdout_drop`` worse on the alphabet's holdout (MNIST test for the digits);
- no more than ``writer_drop`` worse for any writer with at least ``writer_min`` of those drawings.

Layout under ``promotions/`` of the deployment's object store::

    <id>/<kind>.npz      a challenger's weights, written first
    <id>.json            the run's record: recipe, data, figures, each model's verdict and reason. Create-only.
    <id>.forced.json     an admin promoting what the gate refused: who, when, why, which models. Create-only.

Why it is correct, in two sentences: a record is written once, after the weights it names, so it never
names weights that are missing. A model is promoted by publishing its challenger as the next version of
its original (the weight store's compare-and-swap) only while the champion it was judged against is still
served, with a meta naming the record, so promoting twice finds it done and a stale record promotes nothing.

>>> mcnemar_p(right_only_champion=2, right_only_challenger=14)
0.0042
>>> rules = Rules(min_drawings=10, writer_min=5)
>>> champion = [True] * 80 + [False] * 20
>>> challenger = [True] * 95 + [False] * 5
>>> verdict = judge("cnn", holdout=("MNIST test", 0.9946, 0.9941, 10000), champion_right=champion,
...                 challenger_right=challenger, writers=["a"] * 50 + ["b"] * 50, rules=rules)
>>> verdict.promote, verdict.reason
(True, 'promoted: crowd holdout 95.0% vs 80.0% (p < 0.001, 100 drawings), MNIST test 99.41% vs 99.46%, no writer more than 1 point worse')
>>> judge("cnn", holdout=("MNIST test", 0.9946, 0.9941, 10000), champion_right=champion[:30],
...       challenger_right=challenger[:30], writers=["a"] * 30, rules=Rules()).reason
'not promoted: only 30 crowd drawings after the cut-off (needs 200)'
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field

from .lineup import KINDS, original
from .storage import NotFound, ObjectStore, VersionConflict, WeightStore, WeightVersion
from .storage.base import CorruptObject, dump_json, parse_json, sha256_hex
from .storage.ids import new_drawing_id, utc_iso

PROMOTION_ID_RE = re.compile(r"\Ap[0-9]{8}T[0-9]{9}Z-[0-9a-f]{10}\Z")


def new_promotion_id() -> str:
    return "p" + new_drawing_id()


class PromotionError(ValueError):
    """The promotion cannot be carried out now; the message says why."""


# --- the gate ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rules:
    """What a challenger must show (the defaults are the issue's; ``Settings`` may change them)."""

    p_below: float = 0.05
    min_drawings: int = 200
    holdout_drop: float = 0.002
    writer_min: int = 20
    writer_drop: float = 0.01


def mcnemar_p(right_only_champion: int, right_only_challenger: int) -> float:
    """McNemar's exact test, two-sided: how likely a split of the discordant drawings at least this
    lopsided would be if the two models were equally good (a binomial with p = 1/2), rounded to 4 places."""
    b, c = right_only_champion, right_only_challenger
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2**n
    return round(min(1.0, 2 * tail), 4)


def _pct(a: float, b: float, places: int = 1) -> tuple[str, str]:
    """Both as percentages, with a second decimal when one would make them look equal."""
    if places == 1 and round(a * 100, 1) == round(b * 100, 1) and a != b:
        places = 2
    return f"{a * 100:.{places}f}%", f"{b * 100:.{places}f}%"


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3g}"


@dataclass(frozen=True)
class Verdict:
    """The gate's decision on one model's challenger, its figures and the reason, in one line."""

    kind: str
    promote: bool
    reason: str
    figures: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"promote": self.promote, "reason": self.reason, "figures": self.figures}


def judge(kind: str, *, holdout: tuple[str, float, float, int], champion_right, challenger_right, writers,
          rules: Rules = Rules()) -> Verdict:
    """The verdict on ``kind``'s challenger.

    ``holdout``: (its name, the champion's accuracy, the challenger's, its size). ``champion_right``,
    ``challenger_right``, ``writers``: per crowd drawing stored after the cut-off, whether each model
    got it right and whose it is (None: nobody's known).
    """
    holdout_name, holdout_champion, holdout_challenger, holdout_n = holdout
    champion_right, challenger_right = list(map(bool, champion_right)), list(map(bool, challenger_right))
    n = len(champion_right)
    b = sum(ch and not cl for ch, cl in zip(champion_right, challenger_right))
    c = sum(cl and not ch for ch, cl in zip(champion_right, challenger_right))
    p = mcnemar_p(b, c)
    crowd_champion = sum(champion_right) / n if n else None
    crowd_challenger = sum(challenger_right) / n if n else None
    by_writer: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for who, ch, cl in zip(writers, champion_right, challenger_right):
        if who is not None:
            by_writer[who].append((ch, cl))
    writer_figures = sorted(
        ({"writer": who, "n": len(pairs), "champion": round(sum(ch for ch, _ in pairs) / len(pairs), 4),
          "challenger": round(sum(cl for _, cl in pairs) / len(pairs), 4)}
         for who, pairs in by_writer.items() if len(pairs) >= rules.writer_min),
        key=lambda w: w["challenger"] - w["champion"])
    figures = {
        "crowd": {"n": n, "champion": None if n == 0 else round(crowd_champion, 4),
                  "challenger": None if n == 0 else round(crowd_challenger, 4),
                  "right_only_champion": b, "right_only_challenger": c, "p": p},
        "holdout": {"name": holdout_name, "n": holdout_n, "champion": round(holdout_champion, 4),
                    "challenger": round(holdout_challenger, 4)},
        "writers": writer_figures,
        "rules": rules.__dict__,
    }

    failed: dict[str, str] = {}  # each rule the challenger fails -> why, in the order the rules are listed
    if n < rules.min_drawings:
        failed["drawings"] = f"only {n} crowd drawings after the cut-off (needs {rules.min_drawings})"
    elif not (c > b and p < rules.p_below):
        better, worse = _pct(crowd_challenger, crowd_champion)
        failed["crowd"] = (f"crowd holdout {better} vs {worse}, {_p(p)} (needs < {rules.p_below:g}"
                           f"{' and the challenger ahead' if c <= b else ''})")
    if holdout_challenger < holdout_champion - rules.holdout_drop:
        now, was = _pct(holdout_challenger, holdout_champion, 2)
        failed["holdout"] = f"{holdout_name} {now} vs {was} (more than {rules.holdout_drop * 100:g} points worse)"
    worse_writers = [w for w in writer_figures if w["challenger"] < w["champion"] - rules.writer_drop]
    if worse_writers:
        worst = worse_writers[0]
        now, was = _pct(worst["challenger"], worst["champion"])
        whose = "a writer's" if len(worse_writers) == 1 else f"{len(worse_writers)} writers worse, the worst's"
        failed["writer"] = (f"{whose} {worst['n']} drawings {now} vs {was} (more than {rules.writer_drop * 100:g} "
                            f"point worse)")
    figures["failed"] = list(failed)
    if failed:
        return Verdict(kind, False, "not promoted: " + "; ".join(failed.values()), figures)
    better, worse = _pct(crowd_challenger, crowd_champion)
    now, was = _pct(holdout_challenger, holdout_champion, 2)
    writers_said = (f"no writer more than {rules.writer_drop * 100:g} point worse" if writer_figures
                    else f"no writer with {rules.writer_min} drawings to compare")
    return Verdict(kind, True, f"promoted: crowd holdout {better} vs {worse} ({_p(p)}, {n} drawings), "
                               f"{holdout_name} {now} vs {was}, {writers_said}", figures)


# --- records -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Promotion:
    """One retrain run's record. ``status``: ``judged`` (each model has a verdict) or ``skipped`` (nothing to
    learn: ``reason`` says why, and nothing was trained)."""

    id: str
    created: str
    alphabet: str
    status: str
    reason: str  # one line for the whole run
    cutoff: str | None  # crowd drawings stored up to here trained the challengers; later ones judged them
    champion: dict[str, int]  # the original's version each challenger was judged against
    card: dict  # the recipe: command, seed, epochs, data counts, crowd share, training time, machine
    models: dict[str, dict] = field(default_factory=dict)  # kind -> {promote, reason, figures, sha256}

    def to_json(self) -> dict:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, d: dict) -> "Promotion":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    def verdict(self, kind: str) -> dict | None:
        return self.models.get(kind)


def run_reason(verdicts: dict[str, Verdict]) -> str:
    """The run's one line: each model's reason (its failed rules joined by "; "), the CNN's first (the
    ensemble leans on it), a sentence each."""
    order = sorted(verdicts, key=lambda k: (k != "cnn", k))
    return ". ".join(f"{k.upper()} {verdicts[k].reason}" for k in order)


class PromotionStore:
    """Promotion records, challengers' weights and forced decisions in an object store; promoting."""

    FOLDER = "promotions/"

    def __init__(self, objects: ObjectStore) -> None:
        self.objects = objects

    def _name(self, leaf: str) -> str:
        return f"{self.FOLDER}{leaf}"

    @staticmethod
    def check_id(pid: object) -> str:
        if not isinstance(pid, str) or not PROMOTION_ID_RE.match(pid):
            raise NotFound(f"no promotion {str(pid)[:40]!r}")
        return pid

    # --- writing the run's outcome ---

    def put_challenger(self, pid: str, kind: str, data: bytes) -> str:
        """Store a challenger's weights; returns their sha256 (for the record)."""
        self.objects.put(self._name(f"{self.check_id(pid)}/{kind}.npz"), bytes(data))
        return sha256_hex(data)

    def put(self, record: Promotion) -> None:
        """Store the record (create-only; the same record again is fine)."""
        name = self._name(f"{self.check_id(record.id)}.json")
        body = dump_json(record.to_json())
        if not self.objects.put_if_absent(name, body) and self.objects.get(name) != body:
            raise PromotionError(f"promotion {record.id} is already recorded, with other content")

    # --- reading ---

    def get(self, pid: str) -> Promotion:
        name = self._name(f"{self.check_id(pid)}.json")
        return Promotion.from_json(parse_json(self.objects.get(name), name))

    def ids(self) -> list[str]:
        """Every recorded run, newest first."""
        leaves = (name.rsplit("/", 1)[-1] for name, _ in self.objects.list(self.FOLDER))
        return sorted((leaf[:-5] for leaf in leaves if leaf.endswith(".json") and PROMOTION_ID_RE.match(leaf[:-5])),
                      reverse=True)

    def list(self, limit: int = 50) -> list[Promotion]:
        out = []
        for pid in self.ids()[:limit]:
            try:
                out.append(self.get(pid))
            except (NotFound, CorruptObject, ValueError, TypeError):
                continue  # a record torn by a crash mid-write is not a promotion
        return out

    def challenger(self, record: Promotion, kind: str) -> bytes:
        """A challenger's weights, checked against the record's sha256."""
        data = self.objects.get(self._name(f"{record.id}/{kind}.npz"))
        if sha256_hex(data) != record.models[kind].get("sha256"):
            raise CorruptObject(f"promotion {record.id}: the {kind} challenger's weights do not match the record")
        return data

    def forced(self, pid: str) -> dict | None:
        """The admin's decision to promote what the gate refused, if one was made."""
        name = self._name(f"{self.check_id(pid)}.forced.json")
        try:
            return parse_json(self.objects.get(name), name)
        except NotFound:
            return None

    # --- promoting ---

    def promoted_as(self, weights: WeightStore, record: Promotion, kind: str) -> WeightVersion | None:
        """The version of ``kind``'s original that promoted ``record``'s challenger, if one did."""
        head = weights.current(original(kind))
        since = record.champion.get(kind, 0) + 1
        if head is None or head.version < since:
            return None
        for version in weights.history(original(kind), since):
            if version.meta.get("promotion") == record.id:
                return version
        return None

    def promote(self, weights: WeightStore, record: Promotion, kinds: list[str], *, by: str,
                forced: dict | None = None) -> dict[str, WeightVersion]:
        """Publish each of ``kinds``' challengers as the next version of its original; returns the versions.

        Idempotent: a model this record already promoted is returned as it is. PromotionError when a
        champion other than the one judged is served (a later promotion, a rollback): the figures no
        longer compare what would change, so the record promotes nothing; run the retrain again.
        """
        done = {}
        for kind in kinds:
            if kind not in record.models or "sha256" not in record.models[kind]:
                raise PromotionError(f"promotion {record.id} trained no {kind} challenger")
            if (version := self.promoted_as(weights, record, kind)) is not None:
                done[kind] = version
                continue
            head = weights.current(original(kind))
            at = head.version if head else 0
            if at != record.champion.get(kind, 0):
                raise PromotionError(
                    f"{original(kind)} is at version {at}, not the version {record.champion.get(kind, 0)} this run "
                    "was judged against; run the retrain again to judge a challenger against it")
            verdict = record.models[kind]
            meta = {"reason": "promotion", "promotion": record.id, "why": verdict["reason"], "by": by,
                    "forced": forced is not None, "cutoff": record.cutoff, "card": record.card,
                    "figures": {k: verdict["figures"].get(k) for k in ("crowd", "holdout")}}
            if forced is not None:
                meta["forced_why"] = forced.get("why")
            try:
                done[kind] = weights.publish(original(kind), self.challenger(record, kind), at, meta)
            except VersionConflict:
                raise PromotionError(f"{original(kind)} changed while it was being promoted; try again") from None
        return done

    def force(self, weights: WeightStore, pid: str, *, by: str, why: str,
              kinds: list[str] | None = None) -> tuple[dict, dict[str, WeightVersion]]:
        """Promote what the gate refused in run ``pid`` (``kinds``: default every refused model), audited:
        the decision is stored before anything is published, so a promotion never lacks its reason."""
        record = self.get(pid)
        if record.status != "judged":
            raise PromotionError(f"promotion {pid} trained nothing to promote: {record.reason}")
        refused = [k for k in KINDS if k in record.models and not record.models[k]["promote"]]
        kinds = list(kinds) if kinds else refused
        if not kinds:
            raise PromotionError(f"the gate refused nothing in promotion {pid}")
        for kind in kinds:
            if kind not in record.models:
                raise PromotionError(f"promotion {pid} trained no {kind} challenger")
            if self.promoted_as(weights, record, kind) is None:
                head = weights.current(original(kind))
                if (head.version if head else 0) != record.champion.get(kind, 0):
                    raise PromotionError(
                        f"{original(kind)} has changed since promotion {pid} was judged (a later promotion or a "
                        "rollback); run the retrain again to judge a challenger against the model served now")
        decision = {"promotion": pid, "kinds": kinds, "by": by, "why": why, "at": utc_iso()}
        name = self._name(f"{pid}.forced.json")
        if not self.objects.put_if_absent(name, dump_json(decision)):
            decision = parse_json(self.objects.get(name), name)
            if sorted(decision.get("kinds", [])) != sorted(kinds):
                raise PromotionError(f"promotion {pid} was already forced by {decision.get('by')} at "
                                     f"{decision.get('at')} (models {', '.join(decision.get('kinds', []))})")
        return decision, self.promote(weights, record, kinds, by=by, forced=decision)

    # --- what a run trained and was judged on (service.retrain) ---

    def put_crowd(self, pid: str, crowd: dict) -> None:
        """Store the ids of the crowd drawings a run trained on and judged with, beside its record (written
        before the record, like the challengers' weights; the same again is fine)."""
        self.objects.put(self._name(f"{self.check_id(pid)}/crowd.json"), dump_json(crowd))

    def crowd(self, pid: str) -> dict:
        """What :meth:`put_crowd` stored: ``{"cutoff", "trained": [[id, label, weight], ...], "judged": [[id,
        label, writer], ...]}``."""
        name = self._name(f"{self.check_id(pid)}/crowd.json")
        return parse_json(self.objects.get(name), name)
