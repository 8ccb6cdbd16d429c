"""Adds a marker to the emulator's request record: python note.py ENDPOINT TEXT (for hooks)."""

import json
import sys
import urllib.request

endpoint, text = sys.argv[1], sys.argv[2]
if not endpoint.startswith(("http://127.0.0.1:", "http://localhost:")):
    raise SystemExit("note only talks to a loopback emulator")
urllib.request.urlopen(urllib.request.Request(
    endpoint + "/_emulator/note", data=json.dumps({"note": text}).encode(), method="POST"))
