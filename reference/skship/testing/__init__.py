"""Testing helpers for skship and for projects that build on it.

:mod:`skship.testing.strategies` holds public `Hypothesis <https://hypothesis.works>`_
strategies that generate arbitrary nested values of every kind protocol 3 can
store, plus :func:`~skship.testing.strategies.equal` and
:func:`~skship.testing.strategies.same_identity_structure` to check a round trip.
It needs ``hypothesis`` installed, so it is not imported by ``import skship.testing``::

    from skship.testing import strategies
"""

__all__: list[str] = []
