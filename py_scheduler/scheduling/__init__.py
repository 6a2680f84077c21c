"""The scheduling core: cache, queue, nominator, the scheduling cycle and the
binding cycle. Pure asyncio; it reaches the API only through ``Cluster``."""
