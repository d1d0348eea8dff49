"""What the simulated provider is: charges, refunds, scripted outcomes, webhooks and faults.

Plain Python only; time and randomness come in as arguments so every rule is testable without I/O.
"""
