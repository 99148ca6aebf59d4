"""The long-time-lag experiments of Hochreiter & Schmidhuber (1997)."""
