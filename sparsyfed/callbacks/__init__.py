"""What a run writes and prints: callbacks called at run start, after every round and at the end."""
