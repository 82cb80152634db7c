"""Generate the sourdough data set: three inputs, two outputs, known weights, fixed seed.

Run ``python data/sourdough/generate.py`` to rewrite ``data/sourdough/sourdough.csv``; the same
seed always gives the same bytes (a test checks it against the committed file).

The story: a bakery logs 120 loaves. For each, the proofing time (hours), the acidity of the starter
(pH) and the age of the starter (days); and two tasting scores, flavour and crustiness. The scores
are an exact linear function of the *standardised* inputs plus Gaussian noise:

    scores = z @ TRUE_WEIGHT.T + TRUE_BIAS + noise,  z = (inputs - INPUT_MEAN) / INPUT_STD

so a regression on standardised inputs should recover ``TRUE_WEIGHT`` and ``TRUE_BIAS`` up to noise.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

SEED: int = 2024
N_LOAVES: int = 120
INPUTS: tuple[str, ...] = ("proofing_hours", "starter_acidity_ph", "starter_age_days")
OUTPUTS: tuple[str, ...] = ("flavour", "crustiness")
#: Means and spreads of the inputs (hours, pH, days): normal draws, clipped to plausible ranges.
INPUT_MEAN = np.array([8.0, 4.0, 60.0])
INPUT_STD = np.array([2.5, 0.25, 30.0])
INPUT_MIN = np.array([2.0, 3.3, 3.0])
INPUT_MAX = np.array([16.0, 4.7, 200.0])
#: True weights (outputs x inputs) on standardised inputs, and true biases.
#: Longer proofing and a more acidic (lower pH) starter give more flavour; older starters help a bit.
TRUE_WEIGHT = np.array([[1.2, -0.8, 0.5],
                        [0.6, 0.3, -0.4]])
TRUE_BIAS = np.array([6.5, 5.0])
NOISE_STD: float = 0.3

OUT_PATH: Path = Path(__file__).resolve().parent / "sourdough.csv"


def generate(seed: int = SEED, n: int = N_LOAVES) -> str:
    """Return the CSV text of the data set for ``seed`` and ``n`` loaves."""
    rng = np.random.default_rng(seed)
    inputs = np.clip(rng.normal(INPUT_MEAN, INPUT_STD, size=(n, 3)), INPUT_MIN, INPUT_MAX)
    z = (inputs - INPUT_MEAN) / INPUT_STD
    outputs = z @ TRUE_WEIGHT.T + TRUE_BIAS + rng.normal(0.0, NOISE_STD, size=(n, 2))
    lines = [",".join((*INPUTS, *OUTPUTS))]
    for row_in, row_out in zip(inputs, outputs):
        lines.append(",".join([f"{row_in[0]:.2f}", f"{row_in[1]:.3f}", f"{row_in[2]:.1f}",
                               f"{row_out[0]:.3f}", f"{row_out[1]:.3f}"]))
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """Write the CSV to ``OUT_PATH`` (or to the path given as the only argument)."""
    out = Path(argv[0]) if argv else OUT_PATH
    out.write_text(generate(), encoding="utf-8")
    print(f"wrote {N_LOAVES} loaves to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
