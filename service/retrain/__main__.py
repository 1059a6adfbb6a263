"""``python -m service.retrain``: the retrain job (:mod:`service.retrain.job`)."""

from service.retrain.job import main

if __name__ == "__main__":
    main()
