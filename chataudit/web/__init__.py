"""The web app and REST API (`chataudit serve`): a front end over the same Python API as the CLI.
See README-dev.md beside this file for its layout and how to extend it."""
