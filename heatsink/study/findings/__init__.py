"""What the study found, in sentences written from its result files.

The results page (chapter 7) and the README open with the study's findings, and the
chapters that train or check something end with theirs. Every number in them is read from
the files the executed chapters wrote (``results/<twin|real>/``), so a finding cannot
outlive the run it describes: re-execute a chapter and the sentences change with it. A
finding whose chapter has not run yet is left out, not guessed.

* :func:`findings`: the study's, across chapters (chapter 7, the README);
* :func:`model_findings`: one trained model's run (chapter 3);
* :func:`label_quality_findings`: the label checks (chapter 5).
"""

from heatsink.study.findings.label_quality import label_quality_findings, label_quality_markdown
from heatsink.study.findings.model import model_findings, model_findings_markdown
from heatsink.study.findings.study import PASSFAIL_LABELS, TOPICS, findings, findings_markdown

__all__ = [
    "PASSFAIL_LABELS",
    "TOPICS",
    "findings",
    "findings_markdown",
    "label_quality_findings",
    "label_quality_markdown",
    "model_findings",
    "model_findings_markdown",
]
