"""The simulated world outside Canon: the sandbox ERP and the synthetic sample masters.

`sandbox.erp` is the sandbox ERP (`canon sandbox-erp`): Protheus, SAP and Oracle faces over one
SQLite database with fault injection (`sandbox.erp.backend`). `sandbox.synthetic` writes the
seeded Protheus-shaped sample with its truth and agent queries (`canon sample`).

No product layer imports this package (import-linter holds it); the CLI commands that serve or
write the simulated world import it inside the command function, and tests use it freely.
"""
