"""Built-in DAG transforms, registered by name in engine/schema/data_dag.py.

Each is `fn(inputs: list[Data], params, env) -> Data`: pure, deterministic
given its parameters (seeded), so its output can be cached under its key.
"""
