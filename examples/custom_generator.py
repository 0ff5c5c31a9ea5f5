"""A generator defined in Python: qbelief loads the module-level `generator`.

Here: the independent product of Mess3(0.15, 0.6) and a noisy Bloch walk, built with
the library's own pieces.  Any qbelief Generator works.
"""

from generators import library, noisy, product

generator = product(library.mess3(x=0.15, a=0.6), noisy(library.bloch_walk(alpha=1.0, beta=3.0), 0.1))
