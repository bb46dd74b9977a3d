"""Running untrusted work: bubblewrap for commands, confined file access, and every git call."""
