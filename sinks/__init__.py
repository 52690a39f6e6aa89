"""Sinks: consume the entitlement topics and write them where applications read them."""
