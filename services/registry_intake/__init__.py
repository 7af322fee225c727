"""The registry intake: takes the TPF's deliveries, verifies, opens, joins, controls and stores them, and shows
operators and auditors what arrived. Its rooms, from the edge inwards:

* ``api.py``: the app (``create_app``), wiring settings, storage, keys and the use cases' context;
* ``routes/`` (the HTTP API) and ``dashboard/`` (the operator pages): parse a request, call one use case;
* ``dependencies.py``: what a request needs first (the context, the clock, who calls);
* ``service/``: the use cases (``take_delivery``, ``confirm``, ``report``, the reading ones) and their context;
* ``repository/`` (one transaction per decision, its statements, the bulk writer) and ``read/`` (every read
  query, the documents shaped from them, the audit trail);
* ``schemas.py`` (the answers' shapes), ``submissions.py`` (storage's values), ``models.py`` (the tables, the
  submission states), ``config.py``, ``monitoring.py`` and ``migrations/``.
"""
