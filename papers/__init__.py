"""Reproductions of the field's published results, one sub-package per paper.

Each ``papers/<name>/`` has a ``README.md`` (the claim, the protocol, how to run), an entry
point ``python -m papers.<name> --quick|--full`` (also ``qbelief paper <name>``: the
experiments are registered in pyproject.toml under the entry-point group
``qbelief.experiments``), and writes ``results.json``, figures and ``RESULTS.md`` (the
paper's numbers beside ours) into its output folder (default
``papers/<name>/results/<mode>/``).  The processes, protocols and published numbers the
reproductions rely on are collected in ``docs/REFERENCE.md``.
"""
