"""Infrastructure the three services share, with no domain code: problem details, logging, request bodies,
database engines and migrations. Services import ``services.kit``; they never import each other."""
