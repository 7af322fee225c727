"""The trusted pseudonym manager (TPF): takes a municipality's sealed message, swaps identity numbers for
pseudonyms, and delivers the pseudonyms with the untouched payload to the registry.

Rooms, top to bottom (the import contract ``The TPF in layers`` in pyproject.toml keeps them in this order):
``app`` (create_app, start-up), ``api`` (routes: parse, call one use case), ``dependencies`` (what routes take from
the app), ``service`` (the use cases ``take_message`` and ``get_message``, and their context), ``repository``
(what is stored about messages, refusals on record), ``outbox`` (durable taking and delivering), ``checks`` and
``pseudonymising`` (the work), ``monitoring``, and ``config``, ``models``, ``schemas`` (the answers' shapes) with
``migrations`` beside them.
"""
