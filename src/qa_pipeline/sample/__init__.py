"""The seeded synthetic batch generator (no real data ever)."""
