"""The production line: what a quality engineer runs on frames as they come.

* :mod:`~heatsink.line.measurements`: OpenCV measurements of a predicted mask (stains as the
  seed measured them, scratches by length);
* :mod:`~heatsink.line.spec`: pass/fail specs and judging frames against them;
* :mod:`~heatsink.line.inspect`: ``heatsink inspect``, images in, one judged row per image out;
* :mod:`~heatsink.line.spc`: run charts with Western Electric rules;
* :mod:`~heatsink.line.fragments`: scratch fragments joined before measuring (off by default);
* :mod:`~heatsink.line.parts`: frames stitched into whole parts, measured and judged per part;
* :mod:`~heatsink.line.shipped`: the model shipped in ``models/``, ``inspect``'s default.

Importing this package imports none of them (inspection pulls in TensorFlow): import the
module you need.
"""


__all__: list[str] = []
