"""payctl: merchants and operators drive the payment platform from a terminal."""
