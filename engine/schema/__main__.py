"""`python -m engine.schema`: what an untrusted metaprogram may say.

python -m engine.schema             the registered components, one line each
python -m engine.schema --json      the JSON Schema (draft 2020-12) of an untrusted metaprogram
python -m engine.schema --json --component model.mlp     one component's schema
"""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.schema", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the JSON Schema")
    parser.add_argument("--component", metavar="KIND.NAME", help="only this component, e.g. model.mlp")
    args = parser.parse_args(argv)
    from engine.schema.json_schema import component_schema, metaprogram_schema

    if args.component:
        kind, _, name = args.component.partition(".")
        try:
            schema = component_schema(kind, name)
        except KeyError:
            from engine.errors import did_you_mean

            names = [k for k in metaprogram_schema()["$defs"] if k.split(".")[0] in ("model", "dataset", "pipeline")]
            print(f"no component {args.component!r}; {did_you_mean(args.component, names)}", file=sys.stderr)
            return 2
    else:
        schema = metaprogram_schema()
    if args.json:
        print(json.dumps(schema, indent=2, sort_keys=True))
        return 0
    for kind, prop in schema.get("properties", {}).items():
        if "oneOf" in prop:
            names = [branch["$ref"].rsplit(".", 1)[-1] for branch in prop["oneOf"]]
            print(f"{kind}: {', '.join(names)}")
    if args.component:
        for key, prop in schema["properties"].items():
            print(f"  {key}: {json.dumps({k: v for k, v in prop.items() if k != 'description'})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
