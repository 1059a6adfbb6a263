"""The retrain wing: ``python -m service.retrain`` turns the crowd's curated drawings into better originals.

A batch job, run beside the learner (a scheduler, or the Procfile's ``retrain:`` line), never in a web worker:
it trains with TensorFlow. It reads the deployment's stores through :mod:`service.core` and trains with the
laboratory's recipe (:mod:`lab.recipe`); it never imports the web or the learning wing, and neither imports it
(``tests/test_layout.py``). What it promotes reaches every worker the way any new version of an original does.

- :mod:`.crowd`: which drawings count, and the cut-off between learning and judging
- :mod:`.runs`: a run's plan and checkpoints in the object store (resumable on any machine)
- :mod:`.job`: the run: plan, train, judge beside the champion, record, promote
"""
