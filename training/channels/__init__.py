"""Marketing's channel review: what drives conversion in each channel, and each funnel.

The modules, from the leads up: ``leads`` (the leads of a report and the period they are
chosen by), ``funnel`` (the funnel tables and when a group is too small to judge),
``drivers`` (the model's SHAP per channel and campaign, in words), ``report`` (the whole
report from leads and a model), ``plots`` and ``page`` (the figures; the HTML page, its CSV
files, logging them to MLflow), ``review`` (the one orchestration every caller uses), and
``cells`` and ``words`` (a table value as text; the English and Russian words of the review
from the ``training`` gettext catalogs).
"""
