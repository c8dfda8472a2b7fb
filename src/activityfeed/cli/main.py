"""The ``activityfeed`` command: the group, and the commands it holds."""

from __future__ import annotations

import click

from activityfeed import __version__
from activityfeed.cli.admin import keys, teams
from activityfeed.cli.common import CommandGroup
from activityfeed.cli.copy import copy_command
from activityfeed.cli.data import activities, export_command, import_command
from activityfeed.cli.demo import demo
from activityfeed.cli.serve import migrate, serve


@click.group(cls=CommandGroup, context_settings={"max_content_width": 100})
@click.version_option(__version__, prog_name="activityfeed")
def main() -> None:
    """activityfeed: a Salesloft-compatible activity history service."""


# The operator's commands, on the store (serve.py, admin.py, demo.py).
main.add_command(serve)
main.add_command(migrate)
main.add_command(keys)
main.add_command(teams)
main.add_command(demo)
# The integrator's commands, which talk to a running service (data.py), and copy.py.
main.add_command(activities)
main.add_command(export_command)
main.add_command(import_command)
main.add_command(copy_command)
