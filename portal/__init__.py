"""The members-only portal: accounts and membership, the discussion forum, moderation and the
WebSocket consumers that keep threads live. `portal.policy` answers who may see or do what."""
