"""Reproductions of the field's published results, one sub-package per paper.

Each ``papers/<name>/`` has a ``README.md`` (the claim, the protocol, how to run), an entry
point ``python -m papers.<name> --quick|--full`` (also ``qbelief paper <name>``), and
writes ``results.json``, figures and ``RESULTS.md`` (the paper's numbers beside ours)
into its output folder (default ``papers/<name>/results/<mode>/``).
"""

#: the reproduced papers, in the order of ``shared/REFERENCE.md``
PAPERS = [
    "shai2024_belief_geometry",
    "riechers2025_quantum",
    "piotrowski2025_attention",
    "shai2026_factored",
    "preregistered_heads",
]
