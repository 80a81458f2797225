"""Small result files a chapter leaves behind, and the tables read back from them.

One module per job:

* :mod:`~heatsink.results.files` writes and reads the files: each model's scores on a split
  (:func:`save_model_results`, :func:`load_model_results`, its per-image counts back as an
  evaluation with :func:`load_evaluation`), chapter 4's choice (:func:`chosen_run`,
  :func:`remove_model_results`), chapter 6's pass/fail results
  (:func:`save_postprocess_results`) and figures (:func:`save_figure`);
* :mod:`~heatsink.results.tables` turns them into the book's tables: :func:`model_table`,
  :func:`paired_table` (every model against the best, image by image),
  :func:`label_noise_cap`, :func:`training_table`, chapter 6's :func:`passfail_summary` and
  :func:`passfail_rules`, and the scores with their intervals as text (:func:`score_text`)
  or long form (:func:`score_intervals`);
* :mod:`~heatsink.results.runs` finds the runs that belong together (:func:`loss_sweep`,
  :func:`input_variants`);
* :mod:`~heatsink.results.timing` says what the run cost: :func:`chapter_times`,
  :func:`training_time`.

The files are small, hold nothing derived from images but numbers, and are committed for
the twin (``results/twin/``), so the book's results page and the README read numbers from
files a run really wrote.
"""

from heatsink.results.files import (
    chosen_run,
    load_evaluation,
    load_model_results,
    remove_model_results,
    save_figure,
    save_model_results,
    save_postprocess_results,
)
from heatsink.results.runs import input_variants, loss_sweep
from heatsink.results.tables import (
    TABLE_COLUMNS,
    label_noise_cap,
    model_table,
    paired_table,
    passfail_rules,
    passfail_summary,
    score_intervals,
    score_text,
    scores_with_ci,
    training_table,
)
from heatsink.results.timing import chapter_times, training_time

__all__ = [
    "TABLE_COLUMNS",
    "chapter_times",
    "chosen_run",
    "input_variants",
    "label_noise_cap",
    "load_evaluation",
    "load_model_results",
    "loss_sweep",
    "model_table",
    "paired_table",
    "passfail_rules",
    "passfail_summary",
    "remove_model_results",
    "save_figure",
    "save_model_results",
    "save_postprocess_results",
    "score_intervals",
    "score_text",
    "scores_with_ci",
    "training_table",
    "training_time",
]
