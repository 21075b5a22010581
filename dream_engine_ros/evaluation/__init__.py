"""Evaluation of world models against the simulator (pixels read back into object states)."""
