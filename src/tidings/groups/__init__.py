"""Contact groups: dynamic segments defined by a condition, kept up to date (B11).

Importing the package registers its condition kind, ``in_group`` (``groups.kind``).
"""

from tidings.groups import kind as kind
