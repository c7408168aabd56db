"""The run-time path of one call: validate -> build request -> send -> result."""
