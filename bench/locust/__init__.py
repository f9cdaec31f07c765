"""``bench locust``: Locust against a lab variant (above the lab: it drives a variant the lab starts)."""
