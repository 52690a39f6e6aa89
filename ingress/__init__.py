"""The webhook ingress: verify Stripe's signature, publish the raw event, then answer."""
