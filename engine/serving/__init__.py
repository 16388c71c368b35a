"""Serving for benchmarks: our OpenAI-compatible server, server commands, process-group lifetimes."""
