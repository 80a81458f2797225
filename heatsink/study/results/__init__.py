"""Small result files a chapter leaves behind, and the tables read back from them.

One module per job:

* :mod:`~heatsink.study.results.files` writes and reads the files: each model's scores on a split
  (:func:`save_model_results`, :func:`load_model_results`, its per-image counts back as an
  evaluation with :func:`load_evaluation`, those a chapter no longer makes removed with
  :func:`remove_model_results`), the best model by the study's one rule
  (:func:`rank_models`) and the chosen one (:func:`choose_model`,
  :func:`chosen_run`), the label checks' tables (:func:`save_label_quality`,
  :func:`label_quality_file`), the pass/fail results (:func:`save_postprocess_results`)
  and figures (:func:`save_figure`);
* :mod:`~heatsink.study.results.tables` turns them into the book's tables: :func:`model_table`,
  :func:`paired_table` (every model against the best, image by image),
  :func:`label_noise_cap`, :func:`training_table`, chapter 6's :func:`passfail_summary` and
  :func:`passfail_rules`, and the scores with their intervals as text (:func:`score_text`)
  or long form (:func:`score_intervals`);
* :mod:`~heatsink.study.results.groups` finds the runs that belong together (:func:`loss_sweep`,
  :func:`input_variants`);
* :mod:`~heatsink.study.results.timing` says what the run cost: :func:`chapter_times`,
  :func:`training_time`;
* :mod:`~heatsink.study.results.speed` writes and reads the line-speed tables and the machine
  they were measured on (:func:`save_speed_results`, :func:`load_speed_results`).
* :mod:`~heatsink.study.results.seeds` says how far one run can be trusted: the spread over
  seeds (:func:`seed_table`), the rule for calling a difference (:func:`called_difference`)
  and why a run stopped (:func:`stopping`);
* :mod:`~heatsink.study.results.previous` keeps an earlier comparison's files
  (:func:`keep_previous`, :func:`previous_dir`) and says what changed since
  (:func:`protocol_changes`, :func:`changed_findings`).

The files are small, hold nothing derived from images but numbers, and are committed for
the twin (``results/twin/``), so the book's results page and the README read numbers from
files a run really wrote.
"""

from heatsink.study.results.files import (
    LABEL_QUALITY_TABLES,
    choose_model,
    chosen_model,
    chosen_run,
    label_quality_file,
    latency,
    latency_fields,
    load_evaluation,
    load_model_results,
    rank_models,
    remove_model_results,
    save_figure,
    save_label_quality,
    save_model_results,
    save_postprocess_results,
)
from heatsink.study.results.groups import input_variants, loss_sweep
from heatsink.study.results.previous import (
    changed_findings,
    keep_previous,
    previous_dir,
    protocol_changes,
)
from heatsink.study.results.seeds import called_difference, seed_table, stopping
from heatsink.study.results.speed import (
    SPEED_TABLES,
    load_speed_results,
    save_speed_results,
    speed_file,
    was_loaded,
)
from heatsink.study.results.tables import (
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
from heatsink.study.results.timing import chapter_times, training_time

__all__ = [
    "LABEL_QUALITY_TABLES",
    "SPEED_TABLES",
    "TABLE_COLUMNS",
    "called_difference",
    "changed_findings",
    "chapter_times",
    "choose_model",
    "chosen_model",
    "chosen_run",
    "input_variants",
    "keep_previous",
    "label_noise_cap",
    "label_quality_file",
    "latency",
    "latency_fields",
    "load_evaluation",
    "load_model_results",
    "load_speed_results",
    "loss_sweep",
    "model_table",
    "paired_table",
    "passfail_rules",
    "passfail_summary",
    "previous_dir",
    "protocol_changes",
    "rank_models",
    "remove_model_results",
    "save_figure",
    "save_label_quality",
    "save_model_results",
    "save_postprocess_results",
    "save_speed_results",
    "score_intervals",
    "score_text",
    "scores_with_ci",
    "seed_table",
    "speed_file",
    "stopping",
    "training_table",
    "training_time",
    "was_loaded",
]
