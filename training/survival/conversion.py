"""A conversion-time model for one target: the hazard model plus its per-horizon calibration.

``fit_conversion`` fits the hazards on most training leads and the calibration on the held-out
rest; ``ConversionModel.predict`` gives calibrated ``P(target within h days)`` per horizon.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.pipeline.columns import Inputs
from features.spec import DatasetSpec
from training.survival.expand import FollowUp
from training.survival.hazard import HazardModel, HazardOptions, fit_hazard
from training.survival.horizons import HorizonCalibrator, fit_horizon_calibrator, p_within


@dataclass
class ConversionModel:
    hazard: HazardModel
    calibrator: HorizonCalibrator
    horizons: tuple[int, ...]

    def raw(self, frame: Inputs) -> dict[int, np.ndarray]:
        """Uncalibrated P(within h) per horizon, straight from the hazards."""
        hazards = self.hazard.hazards(frame)
        return {h: p_within(hazards, self.hazard.periods, h) for h in self.horizons}

    def predict(self, frame: Inputs) -> dict[int, np.ndarray]:
        """Calibrated P(within h) per horizon, non-decreasing across horizons."""
        return self.calibrator.apply(self.raw(frame))


def _subset(f: FollowUp, rows: np.ndarray) -> FollowUp:
    return FollowUp(days=f.days[rows], event=f.event[rows])


def fit_conversion(
    spec: DatasetSpec,
    frame: pd.DataFrame,
    f: FollowUp,
    horizons: Sequence[int],
    options: HazardOptions | None = None,
) -> ConversionModel:
    """Hazards on the fit leads, calibration per horizon on the validation leads."""
    opts = options or HazardOptions()
    for h in horizons:
        opts.periods.index_of(h)  # every horizon must be a period edge
    hazard, valid = fit_hazard(spec, frame, f, opts)
    model = ConversionModel(hazard, HorizonCalibrator({}), tuple(sorted(horizons)))
    calibrator = fit_horizon_calibrator(model.raw(frame.iloc[valid]), _subset(f, valid), horizons)
    return ConversionModel(hazard=hazard, calibrator=calibrator, horizons=model.horizons)
