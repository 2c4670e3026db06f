"""Server-rendered pages: overview, inventory, resource detail, providers, quotas, chargeback."""
