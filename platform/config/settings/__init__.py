"""Settings profiles: development (default), production and test; base holds what they share."""
