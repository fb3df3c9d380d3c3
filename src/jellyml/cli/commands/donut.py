"""A hidden command. The main help drops a hint."""

from __future__ import annotations

import argparse
from typing import Any

from .. import render
from ..options import add_parser


def register(subparsers: Any) -> None:
    parser = add_parser(subparsers, "donut", description="Mmm, donut.")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    render.spinning_donut()
    return 0
