"""Contact activities: identified interactions and other events per contact."""
