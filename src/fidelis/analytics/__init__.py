"""Loyalty analytics: pure functions over numbers (drivers, satisfaction scores), and the jobs that store them."""
