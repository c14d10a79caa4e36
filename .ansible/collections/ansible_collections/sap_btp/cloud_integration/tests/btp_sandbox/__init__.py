"""btp_sandbox: a local stand-in for SAP BTP (CF API + UAA, it-rt broker, XSUAA, Cloud Integration)."""

from .config import SandboxConfig, Tenant, load_config
from .server import Sandbox

__all__ = ["Sandbox", "SandboxConfig", "Tenant", "load_config"]
