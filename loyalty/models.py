"""Purchases, the points ledger, tiers and rewards: built by the loyalty engine issue."""
