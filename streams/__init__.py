"""The Faust worker: folds Stripe events into per-customer state and emits entitlements."""
