"""Framework adapters: one module per framework (its array vocabulary and autodiff hook), their
fast-path override modules ``<framework>_*.py``, and the shared host helpers ``_host.py``.

Adapters import only :mod:`.base`, :mod:`._host`, their own override modules and the leaf modules
``diffqr._tuning`` and ``diffqr._errors``; dispatch (``diffqr._dispatch``) picks one by array type.
"""
