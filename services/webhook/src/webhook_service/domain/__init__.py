"""What a PSP webhook says and what we decide about it: plain Python, no I/O."""
