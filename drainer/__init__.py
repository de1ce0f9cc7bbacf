"""The drainer: moves events from Redis into the store in batches, losing and duplicating nothing."""
