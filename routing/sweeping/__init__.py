"""Street sweeping and washing: which kerbs must be cleaned (scope) and the sweeper audit's command line."""
