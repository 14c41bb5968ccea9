"""The API's routers: each route parses, calls one gateway or resolver function, maps the result."""
