"""Infrastructure the three services share, with no domain code: the one app builder (``app``: start-up and
shutdown, problem answers, health, metrics and the audit log's endpoints), settings (``settings``), problem
details and their one vocabulary (``problems``), logging, request bodies, database engines and migrations, the
audit log, the durable outbox, the memory of final refusals, metrics and the web pages' frame. Services import
``services.kit``; they never import each other.

Policy belongs to where it is defined: what the sealed-message format says about answers and timestamps is in
``shared.envelope`` (``refusals``, ``freshness``), the reporting calendar's clock in ``shared.iplos``; the kit
holds the mechanism that applies it (answers, the refusal table, the pages).
"""
