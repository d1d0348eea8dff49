"""How the simulator is reached: its HTTP app and its webhook sender process."""
