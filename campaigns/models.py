"""Gift, sample, thank-you and birthday campaigns: built by the campaigns issues."""
