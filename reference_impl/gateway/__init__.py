"""The serving side: the ASGI gateway app, the upstream proxy, the admin app and the uvicorn runner."""
