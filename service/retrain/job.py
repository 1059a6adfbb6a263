"""The retrain job: a challenger for each original from the base data and the curated crowd, judged beside the
champion, recorded with its reason, and promoted only where the gate passes it.

What holds:

- **Nothing served changes unless the gate passes a model**: a passing challenger becomes the next version of
  its original through :meth:`PromotionStore.promote <service.core.promotions.PromotionStore.promote>` (the
  weight store's compare-and-swap, only while the champion it was judged against is still served); a refused
  one is stored with its record, for an admin to force later, and nothing else.
- **A promotion is announced like any new version**: on the queue's channel, which every web worker follows
  (they also poll the weights' HEADs every ``INKLING_REFRESH_SECONDS``, so a lost announcement only delays
  it); the learner finds the new original on its own (``follow_originals``) and rebases the online twin.
- **Every run that decides writes one record**: ``judged`` (each model's verdict, figures and reason) or
  ``skipped`` (why nothing was trained: no crowd to learn from, or too little after the cut-off to judge on).
  A run that runs out of time writes none, exits with 75 and says how to resume it.
- **A run resumes anywhere, exactly**: its plan (the cut-off and every drawing with its label, weight and
  writer) and its checkpoints live in the deployment's object store (:mod:`.runs`); started again, on any
  machine, it trains on the same data from its last checkpoint and ends with the weights an uninterrupted run
  would have (:mod:`lab.recipe`).
- **Never in a web worker**: it trains with TensorFlow, which a web image lacks; it says so and stops.

Exit status: 0 a record was written (promoted, refused or skipped); 75 out of time, run it again to resume;
2 the command cannot be carried out as given (the message says what to change); 1 anything else.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shlex
import sys
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np

from models import model_class

from ..core.curation import ReviewStore
from ..core.lineup import KINDS, original
from ..core.parts import Parts, build_parts
from ..core.promotions import Promotion, PromotionError, PromotionStore, judge, new_promotion_id, run_reason
from ..core.settings import load_settings
from ..core.storage import NotFound
from ..core.storage.ids import utc_iso
from .crowd import Census, default_cutoff, parse_cutoff, read_records, split, take_census
from .runs import RunStore

EXIT_OUT_OF_TIME = 75  # EX_TEMPFAIL: nothing is wrong, run it again
EXIT_USAGE = 2
TRAINING_PACKAGES = ("tensorflow",)
PREDICT_CHUNK = 1000  # images a prediction call: the CNN's feature maps of 10,000 at once would take 1 GB


class UsageError(Exception):
    """The command cannot be carried out as given; the message says what to change."""


NEEDS = ("The job trains with the laboratory's recipe (lab/) on the alphabet's base data (for the digits, MNIST "
         "from scripts/fetch_mnist and the pendigits writers in lab/pendigits/; for the hiragana, KanjiVG): the "
         "full image carries them all (not the web image); in a checkout, scripts/install --dev installs them.")


def recipe():
    """lab.recipe, or a UsageError saying where the job can run (an image without lab/ cannot)."""
    try:
        return importlib.import_module("lab.recipe")
    except ImportError as exc:
        raise UsageError(f"the laboratory cannot be imported ({exc}). {NEEDS}") from None


class OutOfTimeExit(Exception):
    """Training stopped at the time bound; the message says how to resume."""


def say(message: str) -> None:
    """Progress, for the person or the log watching (stderr; stdout gets the run's one-line reason)."""
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Options:
    cutoff: str | None = None  # ISO time; None: hold out the settings' share of the newest crowd drawings
    max_minutes: float | None = None  # None: the settings'
    epochs: int | None = None  # every model's; None: the recipe's (fnn 30, cnn 15)
    models: tuple[str, ...] | None = None  # None: both
    fresh: bool = False  # abandon an unfinished run instead of resuming it
    command: str = "python -m service.retrain"


def parse_args(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m service.retrain", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Retrain the originals from the base data and the curated crowd, judge each challenger "
                    "beside the model served, and promote it only if the gate passes it (docs/retrain.md). "
                    "Started again after a stop, it resumes the unfinished run from its last checkpoint.")
    parser.add_argument("--cutoff", help="ISO time: crowd drawings stored up to it train the challengers, later "
                                         "ones judge them (default: hold out the newest "
                                         "INKLING_RETRAIN_HELD_OUT_SHARE); never before the champion's cut-off")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="stop training after this long, checkpointed (default INKLING_RETRAIN_MAX_MINUTES)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs of every model (default: fnn 30, cnn 15)")
    parser.add_argument("--models", default=None, help="which originals to retrain: fnn,cnn (default both)")
    parser.add_argument("--fresh", action="store_true", help="abandon an unfinished run instead of resuming it")
    args = parser.parse_args(argv)
    models = None
    if args.models:
        models = tuple(dict.fromkeys(m.strip() for m in args.models.split(",") if m.strip()))
        if not models or set(models) - set(KINDS):
            parser.error(f"--models takes a comma-separated choice of {', '.join(KINDS)}")
    if args.epochs is not None and args.epochs < 1:
        parser.error("--epochs must be at least 1")
    if args.max_minutes is not None and args.max_minutes <= 0:
        parser.error("--max-minutes must be more than 0")
    cutoff = None
    if args.cutoff:
        try:
            cutoff = parse_cutoff(args.cutoff)
        except ValueError as exc:
            parser.error(str(exc))
    return Options(cutoff, args.max_minutes, args.epochs, models, args.fresh,
                   " ".join(["python -m service.retrain", *map(shlex.quote, argv)]))


def predict(model, X: np.ndarray) -> np.ndarray:
    """Each image's answer (argmax), a chunk at a time."""
    if not len(X):
        return np.zeros(0, np.int64)
    return np.concatenate([model.predict_proba(X[i:i + PREDICT_CHUNK]).argmax(axis=1)
                           for i in range(0, len(X), PREDICT_CHUNK)])


class Retrain:
    """One invocation of the job over a deployment's parts."""

    def __init__(self, parts: Parts, options: Options) -> None:
        self.parts, self.options = parts, options
        self.settings, self.alphabet = parts.settings, parts.alphabet
        self.weights = parts.weights
        self.promotions = PromotionStore(parts.weights.objects)
        self.runs = RunStore(parts.weights.objects)
        self.rules = self.settings.promotion_rules()
        self.started = time.monotonic()
        self.max_minutes = options.max_minutes or self.settings.retrain_max_minutes
        self.deadline = self.started + self.max_minutes * 60

    # --- the run ---

    def run(self) -> int:
        """Finish what an earlier run left, then resume the unfinished run or plan a new one; returns the exit
        status (0: a record was written)."""
        try:
            return self._run()
        except UsageError as exc:
            say(f"python -m service.retrain: {exc}")
            return EXIT_USAGE
        except OutOfTimeExit as stop:
            say(str(stop))
            return EXIT_OUT_OF_TIME

    def _run(self) -> int:
        self.finish_recorded()
        waiting = [run_id for run_id in self.runs.run_ids() if not self._recorded(run_id)]
        if waiting and self.options.fresh:
            for run_id in waiting:
                self.runs.delete(run_id, KINDS)
                say(f"retrain {run_id}: abandoned (--fresh), its checkpoints deleted")
            waiting = []
        census = None
        if waiting:
            plan = self.runs.plan(waiting[-1])
            self.check_resumable(plan)
            say(f"retrain {plan['id']}: resuming the unfinished run (cut-off {plan['cutoff']}, "
                f"{len(plan['trained'])} crowd drawings to learn from)")
        else:
            census = take_census(self.parts.drawings, ReviewStore(self.weights.objects))
            plan = self.plan(census)
            if isinstance(plan, Promotion):
                self.promotions.put(plan)
                say(f"retrain {plan.id}: nothing trained, recorded")
                print(plan.reason, flush=True)
                return 0
            self.runs.put_plan(plan)
        return self.execute(plan, census)

    def _recorded(self, run_id: str) -> bool:
        try:
            self.promotions.get(run_id)
            return True
        except NotFound:
            return False

    def finish_recorded(self) -> None:
        """A run killed after writing its record but before promoting or tidying up: promote what its gate
        passed (idempotent) and delete its plan and checkpoints."""
        for run_id in self.runs.run_ids():
            if not self._recorded(run_id):
                continue
            record = self.promotions.get(run_id)
            self.promote(record)
            self.runs.delete(run_id, KINDS)

    def check_resumable(self, plan: dict) -> None:
        """UsageError if this invocation asks for something other than what the waiting run was planned with."""
        differs = []
        if plan["alphabet"] != self.alphabet.name:
            differs.append(f"it is for the alphabet {plan['alphabet']}, this deployment's is {self.alphabet.name}")
        if self.options.cutoff and self.options.cutoff != plan["cutoff"]:
            differs.append(f"its cut-off is {plan['cutoff']}, not {self.options.cutoff}")
        if self.options.epochs and any(e != self.options.epochs for e in plan["epochs"].values()):
            differs.append(f"it trains {plan['epochs']} epochs, not {self.options.epochs}")
        if self.options.models and tuple(plan["models"]) != self.options.models:
            differs.append(f"it retrains {','.join(plan['models'])}, not {','.join(self.options.models)}")
        if differs:
            raise UsageError(f"retrain run {plan['id']} (started {plan['created']}) is unfinished and would be "
                             f"resumed, but {'; '.join(differs)}. Run `python -m service.retrain` without those "
                             "options to resume it, or add --fresh to abandon it and start a new run.")
        planned = plan["weights"]
        now = {"crowd": self.settings.retrain_crowd_weight, "reviewed": self.settings.retrain_reviewed_weight}
        if planned != now or plan["base_limit"] != self.settings.retrain_base_limit:
            say(f"retrain {plan['id']}: resuming as planned (weights {planned}, base limit {plan['base_limit']}); "
                "the settings' new values apply to the next run")

    # --- planning ---

    def champion_versions(self, kinds=KINDS) -> dict[str, int]:
        return {kind: (head.version if (head := self.weights.current(original(kind))) else 0) for kind in kinds}

    def champion_cutoff(self, kind: str) -> str | None:
        """The cut-off the served original was trained to (None: the shipped weights, no crowd); a rollback
        serves the cut-off of the version it went back to."""
        model = original(kind)
        version = self.weights.current(model)
        while version is not None:
            if version.meta.get("cutoff"):
                return version.meta["cutoff"]
            back_to = version.meta.get("to") if version.meta.get("reason") == "rollback" else None
            version = self.weights.version(model, back_to) if back_to else None
        return None

    def skipped(self, why: str, census: Census, cutoff: str | None, kinds) -> Promotion:
        return Promotion(id=new_promotion_id(), created=utc_iso(), alphabet=self.alphabet.name, status="skipped",
                         reason=f"not retrained: {why}", cutoff=cutoff, champion=self.champion_versions(kinds),
                         card={"command": self.options.command,
                               "data": {"crowd": len(census.crowd), "excluded": dict(census.excluded)}})

    def plan(self, census: Census) -> dict | Promotion:
        """The run's plan, or the skipped record saying why there is nothing to train."""
        kinds = list(self.options.models or KINDS)
        cutoffs = [c for kind in kinds if (c := self.champion_cutoff(kind))]
        not_before = max(cutoffs, key=parse_cutoff) if cutoffs else None
        if self.options.cutoff:
            cutoff = self.options.cutoff
            if not_before and parse_cutoff(cutoff) < parse_cutoff(not_before):
                raise UsageError(f"--cutoff {cutoff} is before {not_before}, the cut-off of the original served now: "
                                 "it trained on drawings up to then, so it cannot be judged on them. Give a later "
                                 "--cutoff, or none to let the job choose.")
        else:
            cutoff = default_cutoff(census.crowd, share=self.settings.retrain_held_out_share,
                                    min_judged=self.rules.min_drawings, not_before=not_before)
        excluded = ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in sorted(census.excluded.items()))
        left_out = f" ({excluded} left out)" if excluded else ""
        if cutoff is None:
            return self.skipped(f"{len(census.crowd)} crowd drawings to learn from{left_out}; a retrain needs some "
                                f"to learn from and at least {self.rules.min_drawings} more to judge on",
                                census, None, kinds)
        trained, judged = split(census.crowd, cutoff)
        if not trained:
            return self.skipped(f"no crowd drawings stored up to the cut-off {cutoff} to learn from{left_out}",
                                census, cutoff, kinds)
        if len(judged) < self.rules.min_drawings:
            return self.skipped(f"only {len(judged)} crowd drawings after the cut-off {cutoff} to judge on (the "
                                f"gate needs {self.rules.min_drawings}){left_out}", census, cutoff, kinds)
        weight = {False: self.settings.retrain_crowd_weight, True: self.settings.retrain_reviewed_weight}
        return {
            "id": new_promotion_id(), "created": utc_iso(), "alphabet": self.alphabet.name, "cutoff": cutoff,
            "champion_cutoff": not_before, "models": kinds, "seed": self.settings.retrain_seed,
            "epochs": {kind: self.options.epochs or recipe().DEFAULT_EPOCHS[kind] for kind in kinds},
            "weights": {"crowd": weight[False], "reviewed": weight[True]},
            "base_limit": self.settings.retrain_base_limit, "held_out_share": self.settings.retrain_held_out_share,
            "command": self.options.command, "excluded": dict(census.excluded),
            "trained": [[d.id, d.label, weight[d.reviewed]] for d in trained],
            "reviewed": sum(d.reviewed for d in trained),
            "judged": [[d.id, d.label, d.writer] for d in judged],
        }

    # --- training ---

    def crowd_images(self, ids: list[str], census: Census | None) -> np.ndarray:
        """The images of the plan's drawings: from the census that planned it, or read again on a resume."""
        if census is None:
            records, missing = read_records(self.parts.drawings, ids)
            if missing:
                raise UsageError(f"{missing} of the drawings this run was planned with can no longer be read from "
                                 "the store; add --fresh to abandon the run and plan a new one")
            census = Census([], Counter(), {r.id: r for r in records})
        return census.images(ids)

    def execute(self, plan: dict, census: Census | None) -> int:
        laboratory = recipe()
        TRAINERS, base_data = laboratory.TRAINERS, laboratory.base_data
        from lab.data import MissingDataError

        run_id, kinds = plan["id"], plan["models"]
        try:
            base = base_data(self.alphabet)
        except MissingDataError as exc:
            raise UsageError(f"{exc} {NEEDS}") from None
        if plan["base_limit"]:
            base = base.limited(plan["base_limit"], plan["seed"])
        Xb, yb = base.train
        trained_ids = [t[0] for t in plan["trained"]]
        Xc = self.crowd_images(trained_ids, census)
        X = np.concatenate([Xb, Xc])
        y = np.concatenate([yb, np.array([t[1] for t in plan["trained"]], np.int64)])
        w = np.concatenate([np.ones(len(Xb), np.int64), np.array([t[2] for t in plan["trained"]], np.int64)])
        crowd_share = float(w[len(Xb):].sum() / w.sum())
        say(f"retrain {run_id}: cut-off {plan['cutoff']}; learning from {len(Xb):,} base images and "
            f"{len(trained_ids):,} crowd drawings ({plan['reviewed']:,} reviewed; weights {plan['weights']['crowd']} "
            f"and {plan['weights']['reviewed']}: {crowd_share:.1%} of each epoch); judging on "
            f"{len(plan['judged']):,}; at most {self.max_minutes:g} minutes")

        trainers, resumed = {}, False
        for kind in kinds:
            checkpoint = self.runs.checkpoint(run_id, kind)
            if checkpoint is not None:
                trainer = TRAINERS[kind].from_checkpoint(checkpoint)
                resumed = True
                say(f"retrain {run_id}: {kind} resumes after epoch {trainer.epochs_done}/{trainer.epochs}")
            else:
                trainer = TRAINERS[kind](n_classes=self.alphabet.n_classes, n_samples=int(w.sum()),
                                         seed=plan["seed"], epochs=plan["epochs"][kind])
            self.train(run_id, trainer, X, y, w)
            trainers[kind] = trainer
        del X, y, w, Xc
        return self.judge_and_record(plan, base, trainers, census, crowd_share, resumed)

    def train(self, run_id: str, trainer, X, y, w) -> None:
        from lab.recipe import OutOfTime

        kind = trainer.kind
        while not trainer.done:
            left = self.deadline - time.monotonic()
            typical = trainer.seconds / trainer.epochs_done if trainer.epochs_done else 0.0
            if left <= typical:  # the next epoch would not finish in time: stop at the checkpoint we have
                self.out_of_time(run_id, trainer)
            last_said = [time.monotonic()]

            def progress(batch: int, batches: int) -> None:
                if time.monotonic() - last_said[0] > 60:
                    say(f"retrain {run_id}: {kind} epoch {trainer.epochs_done + 1}/{trainer.epochs}: "
                        f"{batch}/{batches} batches")
                    last_said[0] = time.monotonic()

            began = time.monotonic()
            try:
                loss = trainer.train_epoch(X, y, w, deadline=self.deadline, progress=progress)
            except OutOfTime:
                self.out_of_time(run_id, trainer)
            where = self.runs.put_checkpoint(run_id, kind, trainer.checkpoint())
            say(f"retrain {run_id}: {kind} epoch {trainer.epochs_done}/{trainer.epochs} in "
                f"{time.monotonic() - began:.0f} s, loss {loss:.4f}; checkpoint {where} "
                f"({(time.monotonic() - self.started) / 60:.1f} min so far)")

    def out_of_time(self, run_id: str, trainer) -> None:
        raise OutOfTimeExit(
            f"retrain {run_id}: out of time after {(time.monotonic() - self.started) / 60:.1f} minutes (at most "
            f"{self.max_minutes:g}): the {trainer.kind} has {trainer.epochs_done} of its {trainer.epochs} epochs, "
            f"checkpointed; nothing was promoted. Run `python -m service.retrain` again (any machine on this "
            f"store) to resume from the checkpoint, with a larger --max-minutes if you like.")

    # --- judging ---

    def champion(self, kind: str, version: int):
        data = (self.weights.load(original(kind), version) if version
                else self.alphabet.weights[kind].read_bytes())
        return model_class(kind).from_bytes(data)

    def judge_and_record(self, plan: dict, base, trainers: dict, census: Census | None, crowd_share: float,
                         resumed: bool) -> int:
        import tensorflow as tf

        run_id, kinds = plan["id"], plan["models"]
        judged_ids = [j[0] for j in plan["judged"]]
        Xj = self.crowd_images(judged_ids, census)
        yj = np.array([j[1] for j in plan["judged"]], np.int64)
        writers = [j[2] for j in plan["judged"]]
        Xh, yh = base.holdout
        champions = self.champion_versions(kinds)
        verdicts, models, evaluations = {}, {}, {}
        for kind in kinds:
            pair = {"champion": self.champion(kind, champions[kind]), "challenger": trainers[kind].model()}
            right = {who: predict(m, Xj) == yj for who, m in pair.items()}
            holdout = {who: float(np.mean(predict(m, Xh) == yh)) for who, m in pair.items()}
            verdicts[kind] = judge(kind, holdout=(base.holdout_name, holdout["champion"], holdout["challenger"],
                                                  len(yh)),
                                   champion_right=right["champion"], challenger_right=right["challenger"],
                                   writers=writers, rules=self.rules)
            evaluations[kind] = {
                name: {"n": len(ye), **{who: round(holdout[who] if Xe is Xh else
                                                   float(np.mean(predict(m, Xe) == np.asarray(ye))), 4)
                                        for who, m in pair.items()}}
                for name, (Xe, ye) in base.evaluations.items()}
            challenger = pair["challenger"]
            sha = self.promotions.put_challenger(run_id, kind, challenger.to_bytes())
            models[kind] = {**verdicts[kind].to_json(), "sha256": sha}
            say(f"retrain {run_id}: {kind.upper()} {verdicts[kind].reason}")
        self.promotions.put_crowd(run_id, {"cutoff": plan["cutoff"], "trained": plan["trained"],
                                           "judged": plan["judged"]})
        weights_per_epoch = {"base": len(base.train[0]), "crowd": sum(t[2] for t in plan["trained"])}
        card = {
            "command": plan["command"], "recipe": "lab/recipe.py (scripts/train.py's, epoch by epoch)",
            "seed": plan["seed"], "epochs": plan["epochs"],
            "data": {"base": len(base.train[0]), "base_limit": plan["base_limit"], "crowd": len(plan["trained"]),
                     "reviewed": plan["reviewed"], "judged": len(plan["judged"]), "weights": plan["weights"],
                     "images_per_epoch": weights_per_epoch, "excluded": plan["excluded"],
                     "held_out_share": plan["held_out_share"]},
            "crowd_share": round(crowd_share, 4), "cutoff": plan["cutoff"],
            "champion_cutoff": plan["champion_cutoff"],
            "training_seconds": {kind: round(t.seconds, 1) for kind, t in trainers.items()},
            "losses": {kind: t.losses for kind, t in trainers.items()},
            "resumed": resumed, "evaluations": evaluations,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, TensorFlow {tf.__version__}, "
                       f"numpy {np.__version__}",
        }
        record = Promotion(id=run_id, created=utc_iso(), alphabet=plan["alphabet"], status="judged",
                           reason=run_reason(verdicts), cutoff=plan["cutoff"], champion=champions, card=card,
                           models=models)
        self.promotions.put(record)
        failed = self.promote(record)
        self.runs.delete(run_id, KINDS)
        print(record.reason, flush=True)
        return 1 if failed else 0

    def promote(self, record: Promotion) -> bool:
        """Promote what the record's gate passed; False if it could not be (the reason said on stderr)."""
        passing = [kind for kind, verdict in record.models.items() if verdict.get("promote")]
        if not passing:
            return False
        try:
            done = self.promotions.promote(self.weights, record, passing, by="retrain")
        except PromotionError as exc:
            say(f"retrain {record.id}: not promoted after all: {exc}")
            return True
        for kind, version in done.items():
            # As the learner announces an online version and the admin's force does: every web worker serves
            # it now, not at its next poll (a missed announcement costs only that wait).
            self.parts.queue.announce(original(kind), version.version)
            say(f"retrain {record.id}: {original(kind)} is now version {version.version}, announced")
        return False


def main(argv: list[str] | None = None) -> None:
    """``python -m service.retrain``."""
    options = parse_args(sys.argv[1:] if argv is None else argv)
    if missing := [name for name in TRAINING_PACKAGES if importlib.util.find_spec(name) is None]:
        raise SystemExit(f"python -m service.retrain trains models and needs the learner's packages "
                         f"({', '.join(missing)} missing): install them with `pip install .[learner]` (or "
                         "`scripts/install`) and run it where the learner runs; a web worker's image has none.")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    settings = load_settings()
    from ..core.tuning import configure_tensorflow

    configure_tensorflow(settings.retrain_threads)
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()  # a resumed run ends where an uninterrupted one does
    sys.exit(Retrain(build_parts(settings), options).run())
