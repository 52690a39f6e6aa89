"""Atlas: Stripe billing events in, per-customer entitlements out."""

__version__ = "0.1.0"
