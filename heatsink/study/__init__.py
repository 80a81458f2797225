"""The study layer: the heatsink-study book's own machinery, built on the toolkit.

The toolkit (everything else in :mod:`heatsink`) is what a quality engineer installs and a
line runs: data, the twin, models, training, evaluation, label checks and the line's
inspection. This layer is what the study's notebooks need beyond it, and the only part of
the package that knows the repository, the chapters and the book; the toolkit never imports
it (a test enforces that).

* :mod:`~heatsink.study.paths`: where the notebooks, results, trained models and the example
  spec live;
* :mod:`~heatsink.study.chapter`: :func:`open_chapter`, a chapter's data, split and folders
  in one call;
* :mod:`~heatsink.study.naming`: :func:`run_name`, the one place a run's name is built;
* :mod:`~heatsink.study.results`: the result files (the only module that knows their names
  and layout) and the tables read back from them;
* :mod:`~heatsink.study.findings`, :mod:`~heatsink.study.readme`: the findings in sentences,
  and the README written from them;
* :mod:`~heatsink.study.published`: the seed's and the paper's published figures;
* :mod:`~heatsink.study.figures`: figures of many models' results;
* :mod:`~heatsink.study.specs`: the study's analyses of a spec (trade-off, escape causes);
* :mod:`~heatsink.study.parts`: escapes and overkill per part, before and after joining
  scratch fragments, and model choice by an escape-averse rule beside the mIoU rule;
* :mod:`~heatsink.study.dose`: the noise-dose experiment (the recipe trained on twins with
  more and more label noise) and its dose curve;
* :mod:`~heatsink.study.plan`: the training plan of chapters 4 and 5 as data, and its
  training (``heatsink study train``);
* :mod:`~heatsink.study.drift`: the run chart's detection delay and false alarms per
  Western Electric rule, on twins whose defects grow from a known part on;
* :mod:`~heatsink.study.speed`: the trained models timed engine by engine on this CPU, the
  engines' agreement, and quality against speed;
* :mod:`~heatsink.study.runner`: the papermill runner (``heatsink study run``);
* :mod:`~heatsink.study.cli`: the ``heatsink study`` commands.
"""

from heatsink.study.chapter import Chapter, open_chapter, study_split
from heatsink.study.naming import run_name
from heatsink.study.paths import repo_dir, results_dir, runs_dir
from heatsink.study.runner import run_study

__all__ = [
    "Chapter",
    "open_chapter",
    "repo_dir",
    "results_dir",
    "run_name",
    "run_study",
    "runs_dir",
    "study_split",
]
