"""What students receive, built from the single source (``solutions/``): the stubs and notebooks,
and the hint ladders parsed from each region's hint block."""
