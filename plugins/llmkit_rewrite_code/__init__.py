"""(being written)"""

import typer

app = typer.Typer(help="(being written)")
