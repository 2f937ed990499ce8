"""Everything between the core and the outside world: one translator per platform (console, slack, teams), and the
process around them (settings, server, cli)."""
