"""The command line: typer commands over sessions and the serve doors."""
