"""The sandbox ERP's HTTP app (`canon sandbox-erp`): Protheus, SAP and Oracle faces."""

from sandbox.erp.app import DEFAULT_PASSWORD, DEFAULT_USER, create_sandbox_app

__all__ = ["DEFAULT_PASSWORD", "DEFAULT_USER", "create_sandbox_app"]
