"""The presentation layer: what a student sees and moves.

``controls`` (sliders, dropdowns) and ``figures`` (one figure spec) feed two renderers:
``plots`` (matplotlib, for the live ``widgets.Explorer`` in JupyterLab) and ``static``
(the kernel-free twin of every explorer, drawn by ``assets/twin.js`` in the book).
"""
