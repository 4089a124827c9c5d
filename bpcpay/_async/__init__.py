"""The hand-written async layer: aiohttp transport, AsyncBpcPay and its resources."""
