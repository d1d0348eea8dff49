"""Authentication helpers shared by every service: RS256 access tokens and webhook signatures.

Kept free of Flask so workers and the gateway can use the same verification code.
"""
