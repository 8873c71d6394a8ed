"""The serving side: the ASGI gateway app, its HTTP/1.1 server, the upstream pools and proxy, the admin app."""
