"""Which training images get labels: a registry of selection rules (one file each in rules/), a user's own by
`file.py:attr`. `random` is the notebook's balanced per-class draw; every other rule sees images only."""
