"""One module per chapter, named after its notebook: the chapter's numerics and figures.

A notebook stays thin — narrative, a few calls into its module, the plot, the explorer —
and ``tests/`` asserts the same claims the notebook asserts (see ``docs/authoring.md``).
"""
