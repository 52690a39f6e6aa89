"""Wire contracts: what goes on each topic and into each table. No I/O lives here."""
