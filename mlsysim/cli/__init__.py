"""The mlsysim command line (typer + rich): see ``mlsysim.cli.app``."""
