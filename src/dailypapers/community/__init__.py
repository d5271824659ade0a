"""Community: accounts, sessions, tokens, submissions, votes, comments, moderation, limits."""
