"""The learning wing: the one learner of a deployment (:mod:`.learner`), the guard that checks each batch
before it is published (:mod:`.guard`), what each step replays (:mod:`.replay`), and how the learner is
built from the shared parts (:mod:`.build`). It reads :mod:`service.core`; it never imports :mod:`service.web`.
"""
