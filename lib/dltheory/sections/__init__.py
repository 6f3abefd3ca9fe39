"""The glue of one notebook each: a sweep protocol, a table, an explorer panel.

A module here is named after its notebook (``ch1_deep_vs_shallow`` for
``book/1-three-questions/deep-vs-shallow.ipynb``) and holds what that
section needs and no other does. What a second section needs moves to a topic
module of the core. Section modules may import the core, :mod:`dltheory.plotting`
and :mod:`dltheory.widgets`; the core never imports them (a test checks it).
Import the one a notebook needs: ``from dltheory.sections import ch1_margins``.
"""
