"""pcos package."""
