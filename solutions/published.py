"""The published figures the course reproduces, in one place.

The book's chapters quote these and ``tests/test_published_figures.py`` checks that the reference
solutions, run with the stated seeds, reproduce them. Change a figure here only with its source.

Line F (the fast.ai "linear model and neural net from scratch" line): the figures are the published
write-up's, as stated in the course brief (``/work/shared/COURSE_BRIEF.md``, "Two published lines").
Accuracies are validation accuracies on line F's split, rounded to 4 places; losses are the first
epochs' training losses, rounded to 3 places.

Line C (the "deep linear models" line): validation accuracies of the default scikit-learn
``LogisticRegression`` and LightGBM ``LGBMClassifier`` on the ``random_state=808`` split, to six
decimals. These are as computed by the reference; the brief did not state them; confirm against the
write-up. (They are 140/179 and 152/179.)
"""

from __future__ import annotations

#: Line F, linear model (18 epochs at lr 0.2, MAE): validation accuracy, 4 places.
LINE_F_LINEAR_ACCURACY: float = 0.7865
#: Line F, linear model: the first two epochs' losses, 3 places.
LINE_F_LINEAR_FIRST_LOSSES: tuple[float, ...] = (0.536, 0.502)
#: Line F, sigmoid model (30 epochs at lr 100): validation accuracy, 4 places.
LINE_F_SIGMOID_ACCURACY: float = 0.8258
#: Line F, matrix-product model (30 epochs at lr 100): validation accuracy, 4 places.
LINE_F_MATRIX_ACCURACY: float = 0.8258
#: Line F, one hidden layer of 20 at lr 20 (30 epochs): validation accuracy, 4 places.
LINE_F_NN_ACCURACY: float = 0.8258
#: Line F, one hidden layer at lr 20: the first four epochs' losses, 3 places.
LINE_F_NN_FIRST_LOSSES: tuple[float, ...] = (0.543, 0.400, 0.260, 0.390)
#: Line F, deep network with hidden sizes [10, 10] (30 epochs at lr 4): validation accuracy, 4 places.
LINE_F_DEEP_ACCURACY: float = 0.8258

#: Decimal places the published line F accuracies and losses are given to.
LINE_F_ACCURACY_PLACES: int = 4
LINE_F_LOSS_PLACES: int = 3

#: Line C, default ``LogisticRegression`` on the 808 split: validation accuracy (140/179), 6 places.
#: As computed by the reference; the brief did not state it; confirm against the write-up.
LINE_C_LOGISTIC_ACCURACY: float = 0.782123
#: Line C, default ``LGBMClassifier`` on the 808 split: validation accuracy (152/179), 6 places.
#: As computed by the reference; the brief did not state it; confirm against the write-up.
LINE_C_LIGHTGBM_ACCURACY: float = 0.849162
#: Decimal places line C's accuracies are compared to.
LINE_C_ACCURACY_PLACES: int = 6
