"""Label quality: which labels a model that never saw them disagrees with.

Every function takes the labels as drawn, ``labels`` (N, H, W) of integer classes, and
**out-of-sample** class probabilities ``probs`` (N, H, W, K), each image predicted by a
model trained on folds that did not contain it; ``ids`` name the images in that order. On
in-sample probabilities the model has learnt the label errors and every method goes blind.

Three views of the same probabilities, one module each:

* :mod:`~heatsink.label_quality.rankings`, image rankings: :func:`cleanlab_scores`
  (cleanlab's per-image label quality score, the softmin of the per-pixel probability of
  the given label) and two baselines, :func:`loss_scores` and :func:`disagreement_scores`.
  All return a Series indexed by image id in which **lower means more suspect**, so every
  ranking sorts the same way (:func:`rank_order`, ties broken by image id);
* :mod:`~heatsink.label_quality.pixels`, suspect pixels: :func:`cleanlab_pixel_issues`
  (cleanlab's confident-learning filter);
* :mod:`~heatsink.label_quality.components`, suspect components
  (:func:`component_issues`): unlabelled regions the model is confident are a defect,
  labelled defects it calls background, and scratch/stain swaps.

:mod:`~heatsink.label_quality.evaluation` scores these against a twin's
``noise_manifest.csv`` (:func:`precision_at_k`, :func:`image_detection_table`,
:func:`component_detection_table`) and measures what leaving suspects out does to a model's
scores (:func:`scores_with_exclusion`); :mod:`~heatsink.label_quality.worklist` turns a
ranking into a labeller's worklist (:func:`ranked_issues`) and :func:`issue_grid` shows its
top entries.
"""

from heatsink.label_quality.components import (
    BOUNDARY,
    COMPONENT_COLUMNS,
    CONFIDENCE,
    KINDS,
    MIN_PIXELS,
    component_issues,
)
from heatsink.label_quality.evaluation import (
    MATCH_MARGIN,
    component_detection_table,
    component_precision_at_n,
    image_detection_table,
    injected_errors,
    match_components,
    precision_at_k,
    scores_with_exclusion,
)
from heatsink.label_quality.pixels import MAX_DOWNSAMPLE, cleanlab_pixel_issues, default_downsample
from heatsink.label_quality.rankings import (
    cleanlab_scores,
    disagreement_scores,
    flag_top,
    loss_scores,
    rank_order,
)
from heatsink.label_quality.worklist import (
    issue_grid,
    ranked_issues,
    save_tables,
    write_ranked_issues,
)

__all__ = [
    "BOUNDARY", "COMPONENT_COLUMNS", "CONFIDENCE", "KINDS", "MATCH_MARGIN", "MAX_DOWNSAMPLE",
    "MIN_PIXELS", "cleanlab_pixel_issues", "cleanlab_scores", "component_detection_table",
    "component_issues", "component_precision_at_n", "default_downsample",
    "disagreement_scores", "flag_top", "image_detection_table", "injected_errors",
    "issue_grid", "loss_scores",
    "match_components", "precision_at_k", "rank_order", "ranked_issues", "save_tables",
    "scores_with_exclusion", "write_ranked_issues",
]
