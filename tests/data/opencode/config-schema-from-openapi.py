#!/usr/bin/env python3
"""config-schema-from-openapi.py DOC.json > opencode.schema.json

OpenCode's own OpenAPI document (GET /doc of `opencode serve`) holds the configuration
schema as the component `Config`. This turns it into a stand-alone JSON Schema (2020-12):
`Config` and every component it reaches, transitively, become `$defs`, and each
`#/components/schemas/X` reference becomes `#/$defs/X`. Nothing else is changed.
"""
import json
import re
import sys

doc = json.load(open(sys.argv[1]))
components = doc["components"]["schemas"]
REF = re.compile(r"#/components/schemas/([A-Za-z0-9_.-]+)")
seen, todo = set(), ["Config"]
while todo:
    name = todo.pop()
    if name not in seen:
        seen.add(name)
        todo.extend(REF.findall(json.dumps(components[name])))
defs = {name: components[name] for name in sorted(seen)}
text = REF.sub(lambda m: "#/$defs/" + m.group(1), json.dumps(defs))
schema = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$ref": "#/$defs/Config",
    "$defs": json.loads(text),
}
json.dump(schema, sys.stdout, indent=2)
sys.stdout.write("\n")
