"""``python -m service.learner``: the learner role of a scale-out deployment (:mod:`service.learn`)."""

from service.learn.build import main

if __name__ == "__main__":
    main()
