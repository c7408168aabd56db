"""Build-time generator: the vendored OpenAPI cut (openapi/) + scope.toml -> tool_specs/. Never imported at run time."""
