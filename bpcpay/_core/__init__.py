"""Sans-I/O core: requests, responses, retries and the converter as pure functions.

Nothing here imports aiohttp, anyio or asyncio; everything is a function of values.
"""
