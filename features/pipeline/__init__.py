"""The one feature pipeline: raw lead rows -> a float matrix, used verbatim by training and
serving.

``LeadFeaturizer`` reads only the columns of the features a model scoring at its
``known_at`` may use (``arrival`` or ``qualified``; see ``DatasetSpec.features_for``), so an
arrival model cannot see BANT answers. Input is a DataFrame (training, batch scoring) or a
list of dicts (serving, rows of ``lead_to_record``). Both paths turn each raw column into a
1-d numpy array and call the same per-feature encoder on it.

Modules: ``columns`` (raw input as columns, per-value helpers), ``encoders`` (one encoder
per feature type and ``build_encoders``, which picks them), ``featurizer``
(``LeadFeaturizer``).

Models registered before the pipeline became a package were pickled with every class named
under this package's own name (``LeadFeaturizer``, the encoders, ``Column``), so each one is
importable from here and old pickles keep loading.
"""

from features.pipeline.columns import DIRECT_MAX, Column, Inputs, Records, read_columns
from features.pipeline.encoders import (
    DATE_PART_NAMES,
    EMAIL_KINDS,
    MISSING,
    MONEY_GIVEN,
    OTHER,
    PHONE_MIN_DIGITS,
    TEXT_LANGUAGES,
    BooleanEncoder,
    CategoricalEncoder,
    DatetimeEncoder,
    EmailEncoder,
    Encoder,
    MoneyEncoder,
    NumericEncoder,
    OrdinalEncoder,
    PhoneEncoder,
    SinceEncoder,
    TextEncoder,
    build_encoders,
)
from features.pipeline.featurizer import LeadFeaturizer

__all__ = [
    "DATE_PART_NAMES",
    "DIRECT_MAX",
    "EMAIL_KINDS",
    "MISSING",
    "MONEY_GIVEN",
    "OTHER",
    "PHONE_MIN_DIGITS",
    "TEXT_LANGUAGES",
    "BooleanEncoder",
    "CategoricalEncoder",
    "Column",
    "DatetimeEncoder",
    "EmailEncoder",
    "Encoder",
    "Inputs",
    "LeadFeaturizer",
    "MoneyEncoder",
    "NumericEncoder",
    "OrdinalEncoder",
    "PhoneEncoder",
    "Records",
    "SinceEncoder",
    "TextEncoder",
    "build_encoders",
    "read_columns",
]
