"""The bottom layer: what every other package may use and nothing here may import back.

`core.settings` (the one `Settings` dataclass and the private-file helpers) and
`core.errors` (`ToolInputError`) sit below the cores in knowledge/, the lesson tools, the
agent and the UI, so each of those can use them without importing a layer above itself.
Only the standard library and python-dotenv are imported here.
"""
