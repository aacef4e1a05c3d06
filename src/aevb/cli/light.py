"""The commands that need no torch: the parser's ``func`` names are looked up here first, so these answer at once."""

from __future__ import annotations

import argparse
import json

from aevb.data.listing import list_datasets


def cmd_datasets(args: argparse.Namespace) -> int:
    rows = list_datasets(args.data_dir or None)
    if args.json:
        print(json.dumps([r._asdict() for r in rows]))
        return 0
    for row in rows:
        r = row._asdict()
        status = "present" if r["present"] else "missing"
        print(f"{r['name']:16s} {status:8s} {r['location']}\n{'':16s} {r['description']}")
    return 0
