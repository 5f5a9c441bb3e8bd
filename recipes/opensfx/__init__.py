"""opensfx: recipe that builds the open training corpus from Debian packages (see README.md)."""
