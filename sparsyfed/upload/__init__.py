"""Upload steps shared by every method and the transport of both directions."""
