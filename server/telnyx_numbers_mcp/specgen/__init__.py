"""Build-time generator: Telnyx OpenAPI spec + scope.toml -> tool_specs/. Never imported at run time."""
