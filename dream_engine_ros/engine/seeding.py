"""Seeds: one range for every request and every noise draw (light: the CLI and HTTP config import it)."""

MAX_SEED = 2**32  # numpy's legacy generator takes seeds in [0, 2**32); candidate k of a batch uses seed + k
