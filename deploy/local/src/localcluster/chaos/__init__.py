"""The chaos run: faults injected into a running platform, with what it costs to recover.

``python -m localcluster.chaos`` (``make chaos``) starts its own cluster, and in each round
sends a burst of payments, SIGKILLs the workers that carry them and then the Kafka broker,
starts the broker again the way ``make up`` does and measures the seconds from the broker
being ready to the last payment of the burst being final, checking that none was lost,
charged twice or announced final twice. See ``localcluster.chaos.run``.
"""
