"""A season past one machine: a Ray job per batch, PostgreSQL for everything the machines must
agree on (checkpoints, the paid-submit journal, the task ledger, budgets, the series bible,
provider slots, progress), an S3-compatible bucket or a shared mount for assets.

Imported only when ``--cluster`` or ``dramaforge cluster`` is asked for; ray, psycopg and
boto3 are imported inside the functions that need them.
"""
