"""Help that reads as documentation: metavars (PATH, NAME, TEXT), never Python types.

typer prints a parameter without a metavar by its annotation (`<list[Path]>`, `<str>`): the
reader sees our code, not the command. `fill_metavars` gives every such parameter the metavar a
Unix manual would show, once, on the command tree `main()` runs.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperOption

# The type typer displays -> the metavar shown.
TYPE_METAVARS = {
    "path": "PATH",
    "str": "TEXT",
    "int": "N",
    "int range": "N",
    "float": "NUMBER",
    "float range": "NUMBER",
    "datetime": "TIME",
}


def _metavar(param: Any) -> str:
    shown = str(param.display_type(None)).strip("<>")
    if shown.startswith("list[") and shown.endswith("]"):
        shown = shown[5:-1]
    if "|" in shown:  # choices read best as themselves
        return shown
    return TYPE_METAVARS.get(shown.lower(), shown.upper())


def _no_type(ctx: Any) -> None:
    return None


_option_type = TyperOption.display_type_rich


def _flag_has_no_type(self: TyperOption, ctx: Any) -> str | None:
    return None if self.is_flag else _option_type(self, ctx)


# A flag (`--json`, and `--help`, which typer makes anew for every help page) takes no value:
# typer would still print `<bool>` beside it. Patched on the class because `--help` is never in
# a command's params for fill_metavars to reach.
TyperOption.display_type_rich = _flag_has_no_type  # type: ignore[method-assign]


def fill_metavars(command: Any) -> Any:
    """Set a metavar on every parameter of `command` and its sub-commands that has none."""
    for param in command.params:
        if type(param).__name__ == "TyperArgument":
            # An argument is its name (the usage line adds "..." when it repeats); its type is
            # said by its help, not by an annotation in a column of its own.
            if param.metavar is None:
                param.metavar = (param.name or "value").upper()
            param.display_type_rich = _no_type
        elif param.metavar is None and not getattr(param, "is_flag", False):
            param.metavar = _metavar(param)
    for sub in getattr(command, "commands", {}).values():
        fill_metavars(sub)
    return command
