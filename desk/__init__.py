"""desk: the application shell — configuration, the command line, and the wiring of organs into graphs."""
