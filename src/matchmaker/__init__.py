"""Technology-transfer supply–demand matchmaking service."""
