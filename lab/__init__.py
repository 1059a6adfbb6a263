"""The training laboratory: what training, evaluation and measurement need, and serving never does.

Data sets (:mod:`lab.data`: MNIST, pendigits), pen strokes rendered as the page
draws them (:mod:`lab.render`, :mod:`lab.drawn`), synthetic hiragana writers from
KanjiVG (:mod:`lab.kana`), an outside recogniser to compare with (:mod:`lab.zinnia`),
training-time distortions (:mod:`lab.distort`), a baseline (:mod:`lab.linear`) and
model cards (:mod:`lab.model_card`). It builds on :mod:`models`; :mod:`models` and
the web workers never import it (``tests/test_layout.py`` checks both).
"""
